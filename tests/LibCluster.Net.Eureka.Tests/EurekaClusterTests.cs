using System.Diagnostics.Metrics;
using System.Globalization;
using LibCluster.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LibCluster.Eureka.Tests;

/// <summary>
/// Whole LibCluster hosts (AddLibCluster + AddEureka, in-memory configuration, each on its own loopback port) that find
/// each other through the stand-in registry, as the reference Cloud Foundry deployment does.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class EurekaClusterTests
{
    private const string App = "my-clustered-app";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static string Name(int i) => $"n{i}@127.0.0.1";

    private static async Task<EurekaNode[]> StartClusterAsync(int count, Func<int, EurekaNode> create)
    {
        var nodes = await EurekaNode.StartManyAsync(count, create);
        await WaitForFullMeshAsync(nodes, "the nodes connected to each other");

        // Connected is not enough: a node may be connected only because another dialled it. Each topology must want
        // every other node (the runtime's event 2002), which only the registry can have told it.
        await Eventually.TrueAsync(
            () => nodes.All(n => nodes.Where(o => o != n).All(o => n.Logs.WithEventId(2002).Any(e => e.Value("NodeName") == o.Name))),
            Timeout,
            "every node's topology wants every other node",
            () => string.Join("; ", nodes.Select(n => $"{n.Name} wants [{string.Join(", ", n.Logs.WithEventId(2002).Select(e => e.Value("NodeName")))}]")));
        return nodes;
    }

    private static Task WaitForFullMeshAsync(IReadOnlyList<EurekaNode> nodes, string because) =>
        Eventually.TrueAsync(
            () => nodes.All(n => n.Connected.SequenceEqual(nodes.Where(o => o != n).Select(o => o.Name).Order(StringComparer.Ordinal))),
            Timeout,
            because,
            () => string.Join("; ", nodes.Select(n => n.ToString())));

    private static async Task StopAllAsync(IEnumerable<EurekaNode> nodes)
    {
        foreach (var node in nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static void NoNodeDown(IEnumerable<MembershipRecorder> recorders, string because)
    {
        foreach (var recorder in recorders)
        {
            recorder.Downs.Should().BeEmpty(because);
        }
    }

    [Fact]
    public async Task AddEureka_FourNodes_DiscoverEachOther()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        var nodes = await StartClusterAsync(4, i => EurekaNode.Create(Name(i), EurekaNode.FastConfig(server)));
        try
        {
            var registered = server.Instances(App);
            registered.Select(i => i.Metadata("libcluster.node")).Should().BeEquivalentTo(nodes.Select(n => n.Name));
            registered.Select(i => i.InstanceId).Should().OnlyHaveUniqueItems();
            registered.Should().OnlyContain(i => i.App == "MY-CLUSTERED-APP" && i.Status == "UP");
            foreach (var instance in registered)
            {
                instance.InstanceId.Should().Be($"{instance.Metadata("libcluster.node")}:{instance.Metadata("libcluster.port")}");
            }

            // Polls and renewals every few hundred milliseconds: neither the HTTP client nor Polly may log each one.
            nodes.SelectMany(n => n.Logs.Entries)
                .Where(e => e.Level >= LogLevel.Information && (e.Category.StartsWith("Polly", StringComparison.Ordinal) || e.Category.StartsWith("System.Net.Http", StringComparison.Ordinal)))
                .Should().BeEmpty();
        }
        finally
        {
            await StopAllAsync(nodes);
        }
    }

    [Fact]
    public async Task StopAsync_OneNode_DeregistersAndTheOthersDropIt()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        var nodes = await StartClusterAsync(4, i => EurekaNode.Create(Name(i), EurekaNode.FastConfig(server)));
        var stayers = nodes.Take(3).ToArray();
        try
        {
            await nodes[3].StopAsync();

            server.Count("delete").Should().Be(1, "a graceful stop deletes the registration");
            server.Instances(App).Select(i => i.Metadata("libcluster.node")).Should().BeEquivalentTo(stayers.Select(n => n.Name));
            nodes[3].Logs.WithEventId(5007).Should().ContainSingle();

            // "No longer wants" (the runtime's event 2003) means the topology dropped it: nobody dials it again.
            await Eventually.TrueAsync(
                () => stayers.All(n => n.Logs.WithEventId(2003).Any(e => e.Value("NodeName") == Name(3))),
                Timeout,
                "every other node's topology dropped n3");
            await WaitForFullMeshAsync(stayers, "the three others stay connected");
        }
        finally
        {
            await StopAllAsync(nodes);
        }
    }

    [Fact]
    public async Task RegistryRestartsEmpty_EveryNodeRegistersAgain_AndNoNodeGoesDown()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        var nodes = await StartClusterAsync(4, i => EurekaNode.Create(Name(i), EurekaNode.FastConfig(server)));
        var recorders = nodes.Select(n => MembershipRecorder.Start(n.Cluster)).ToArray();
        try
        {
            server.RestartEmpty();

            await Eventually.TrueAsync(
                () => server.Instances(App).Count == 4,
                Timeout,
                "every node registered again",
                () => $"registered: {string.Join(", ", server.Instances(App).Select(i => i.InstanceId))}");
            server.Count("renew_404").Should().BeGreaterThanOrEqualTo(4, "each node learnt it was gone from a renewal answering 404");
            nodes.Should().OnlyContain(n => n.Logs.WithEventId(5006).Count > 0);

            // Let every node poll the complete registry a few times: a node dropped on a partial view would show now.
            var fetches = server.Count("fetch");
            await Eventually.TrueAsync(() => server.Count("fetch") >= fetches + 16, Timeout, "the nodes polled the restored registry");
            NoNodeDown(recorders, "removals are held back while the nodes register again");
            await WaitForFullMeshAsync(nodes, "the mesh is intact");
        }
        finally
        {
            foreach (var recorder in recorders)
            {
                await recorder.DisposeAsync();
            }

            await StopAllAsync(nodes);
        }
    }

    [Theory]
    [InlineData(Outage.ConnectionReset)]
    [InlineData(Outage.Unavailable)]
    public async Task RegistryDown_ForAWhile_ClusterStaysIntactAndRecovers(Outage outage)
    {
        await using var server = await FakeEurekaServer.StartAsync();
        var nodes = await StartClusterAsync(4, i => EurekaNode.Create(Name(i), EurekaNode.FastConfig(server)));
        var recorders = nodes.Select(n => MembershipRecorder.Start(n.Cluster)).ToArray();
        using var meters = new MetricRecorder(nodes);
        try
        {
            server.Outage = outage;

            // Long enough for several failed polls and renewals: past the 3 s lease, so the registry evicts everyone.
            await Eventually.TrueAsync(
                () => nodes.All(n => n.Logs.WithEventId(2052).Any(e => int.Parse(e.Value("FailureCount")!, CultureInfo.InvariantCulture) >= 3)),
                Timeout,
                "every node failed to poll three times in a row");
            NoNodeDown(recorders, "an unreachable registry changes nothing in the mesh");
            foreach (var node in nodes)
            {
                node.Connected.Should().HaveCount(3);
                node.Logs.WithEventId(2051).Should().ContainSingle("discovery warns once per outage, not per poll").Which.Level.Should().Be(LogLevel.Warning);
                node.Logs.WithEventId(5003).Should().ContainSingle("registration warns once per outage, not per renewal");
            }

            meters.DiscoveryErrors.Should().BeGreaterThan(0);
            meters.EurekaFailures.Should().BeGreaterThan(0);

            server.Outage = Outage.None;
            await Eventually.TrueAsync(
                () => nodes.All(n => n.Logs.WithEventId(2053).Count > 0 && n.Logs.WithEventId(5005).Count > 0) && server.Instances(App).Count == 4,
                Timeout,
                "every node polls and is registered again",
                () => $"registered: {string.Join(", ", server.Instances(App).Select(i => i.InstanceId))}");
            var fetches = server.Count("fetch");
            await Eventually.TrueAsync(() => server.Count("fetch") >= fetches + 16, Timeout, "the nodes polled the restored registry");
            NoNodeDown(recorders, "recovery changes nothing in the mesh either");
            await WaitForFullMeshAsync(nodes, "the mesh is intact");
        }
        finally
        {
            foreach (var recorder in recorders)
            {
                await recorder.DisposeAsync();
            }

            await StopAllAsync(nodes);
        }
    }

    [Fact]
    public async Task CloudFoundryEnvironment_BoundRegistryWithOAuth_FormsTheClusterAndRenewsExpiredTokens()
    {
        await using var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions
        {
            RequireOAuth = true,
            TokenLifetime = TimeSpan.FromSeconds(1),
            AdvertisedTokenLifetime = TimeSpan.FromHours(12),
        });
        var vcapServices = $$"""
            {
              "p.service-registry": [ {
                "binding_name": null, "instance_name": "service-registry", "label": "p.service-registry", "name": "service-registry",
                "plan": "standard", "provider": null, "syslog_drain_url": null,
                "tags": ["eureka", "discovery", "registry", "spring-cloud"],
                "credentials": {
                  "uri": "{{server.BaseUri.AbsoluteUri.TrimEnd('/')}}",
                  "client_id": "{{server.Options.ClientId}}",
                  "client_secret": "{{server.Options.ClientSecret}}",
                  "access_token_uri": "{{server.TokenUri}}"
                },
                "volume_mounts": []
              } ]
            }
            """;
        const string appGuid = "9f1c2d3e-aaaa-bbbb-cccc-000000000001";
        var guids = Enumerable.Range(0, 3).Select(i => $"1b2c3d4e-5f60-4718-8293-00000000000{i}").ToArray();
        FakeEnvironment Environment(int i) => new(new Dictionary<string, string>
        {
            ["VCAP_SERVICES"] = vcapServices,
            ["VCAP_APPLICATION"] = $$"""{"application_id":"{{appGuid}}","application_name":"{{App}}","application_uris":["{{App}}.apps.example.com"],"space_name":"dev","organization_name":"acme"}""",
            ["CF_INSTANCE_INDEX"] = i.ToString(CultureInfo.InvariantCulture),
            ["CF_INSTANCE_GUID"] = guids[i],
            ["CF_INSTANCE_INTERNAL_IP"] = "127.0.0.1",
            ["CF_INSTANCE_IP"] = "10.0.16.5",
            ["PORT"] = "8080",
        });
        var timing = new Dictionary<string, string?>
        {
            ["PollingInterval"] = "00:00:00.2",
            ["RenewalInterval"] = "00:00:00.3",
            ["LeaseDuration"] = "00:00:03",
        };
        var nodes = await StartClusterAsync(3, i => EurekaNode.Create($"app{i}@127.0.0.1", timing, Environment(i)));
        var recorders = nodes.Select(n => MembershipRecorder.Start(n.Cluster)).ToArray();
        try
        {
            var registered = server.Instances(App);
            registered.Select(i => i.InstanceId).Should().BeEquivalentTo(guids.Select(g => $"127.0.0.1:{g}"));
            foreach (var (instance, index) in registered.OrderBy(i => i.Metadata("cfInstanceIndex"), StringComparer.Ordinal).Select((r, i) => (r, i)))
            {
                instance.App.Should().Be("MY-CLUSTERED-APP");
                instance.Field("hostName").Should().Be("127.0.0.1");
                instance.Field("ipAddr").Should().Be("127.0.0.1");
                instance.Body["port"]!["$"]!.GetValue<int>().Should().Be(8080);
                instance.Field("vipAddress").Should().Be(App);
                instance.Metadata("cfInstanceIndex").Should().Be(index.ToString(CultureInfo.InvariantCulture));
                instance.Metadata("cfAppGuid").Should().Be(appGuid);
                instance.Metadata("libcluster.node").Should().Be($"app{index}@127.0.0.1");
                instance.InstanceId.Should().Be($"127.0.0.1:{guids[index]}");
            }

            // Tokens live 1 s on the server but announce 12 h: the registry's 401 is what makes the nodes renew them.
            var tokens = server.Count("token");
            await Eventually.TrueAsync(() => server.Count("unauthorized") >= 6 && server.Count("token") >= tokens + 6, Timeout, "expired tokens were refused and replaced");
            var renewals = server.Count("renew");
            await Eventually.TrueAsync(() => server.Count("renew") >= renewals + 6, Timeout, "renewals go on with fresh tokens");

            NoNodeDown(recorders, "expiring tokens never disturb the cluster");
            foreach (var node in nodes)
            {
                node.Logs.Entries.Where(e => e.EventId.Id is >= 5001 and <= 5099 && e.Level >= LogLevel.Warning).Should().BeEmpty();
                var text = node.Logs.AllText().ToList();
                foreach (var secret in server.IssuedTokens.Append(server.Options.ClientSecret))
                {
                    text.Should().NotContain(t => t.Contains(secret, StringComparison.Ordinal), "secrets and tokens are never logged");
                }
            }
        }
        finally
        {
            foreach (var recorder in recorders)
            {
                await recorder.DisposeAsync();
            }

            await StopAllAsync(nodes);
        }
    }

    /// <summary>Sums the discovery and Eureka failure counters of the given nodes' meters (each host has its own meter factory).</summary>
    private sealed class MetricRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _discoveryErrors;
        private long _eurekaFailures;

        public MetricRecorder(IEnumerable<EurekaNode> nodes)
        {
            var factories = nodes.Select(n => n.Host.Services.GetRequiredService<IMeterFactory>()).ToHashSet();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "LibCluster.Net" && instrument.Meter.Scope is IMeterFactory factory && factories.Contains(factory)
                    && instrument.Name is "libcluster.discovery.errors" or "libcluster.eureka.failures")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument.Name == "libcluster.discovery.errors")
                {
                    Interlocked.Add(ref _discoveryErrors, value);
                }
                else
                {
                    Interlocked.Add(ref _eurekaFailures, value);
                }
            });
            _listener.Start();
        }

        public long DiscoveryErrors => Interlocked.Read(ref _discoveryErrors);

        public long EurekaFailures => Interlocked.Read(ref _eurekaFailures);

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>
/// The whole-cluster tests run one at a time, with headroom in the thread pool: on a two-core machine the test host
/// itself can hold pool threads long enough to delay timers by more than the short intervals these tests use.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ClusterCollection : ICollectionFixture<ThreadPoolHeadroom>
{
    public const string Name = "Eureka clusters";
}

public sealed class ThreadPoolHeadroom
{
    private const int MinimumThreads = 16;

    public ThreadPoolHeadroom()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, MinimumThreads), Math.Max(io, MinimumThreads));
    }
}
