using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using LibCluster.IntegrationTests.Dns;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// The discovery source goes away: a real dnsmasq is stopped while a cluster found through it runs. (Eureka registry
/// outages are covered in tests/LibCluster.Net.Eureka.Tests, EurekaClusterTests.RegistryDown_ForAWhile_ClusterStaysIntactAndRecovers.)
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class DiscoveryOutageTests(ITestOutputHelper output)
{
    private const string Query = "nodes." + DnsmasqServer.Domain;
    private const int MinimumFailedPolls = 10;
    private static readonly TimeSpan PollingInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan TickTime = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// dnsmasq is down for at least ten polling intervals and three TickTimes: every poll fails and is counted, and
    /// nothing else happens (no NodeDown, no redial, no NodeUp). Back with one more record, the polls succeed again,
    /// the new node is connected, and still no connection has dropped.
    /// </summary>
    [DnsmasqFact]
    public async Task DnsStrategy_DnsServerDownForManyPollsAndTickTimes_NothingDisconnectsAndItRecoversWhenBack()
    {
        var ip = DnsTestCluster.LoopbackBlock();
        var port = NodeProcess.FreePort();
        var topology = $"outage-{Guid.NewGuid():N}"[..15];
        await using var dns = await DnsmasqServer.StartAsync(Records(ip, "2", "3", "4")).WaitAsync(Timeout);
        using var polls = new PollCounter(topology);
        using var logs = new LogCollector();
        var hosts = new List<IHost>();
        var watches = new List<ChangeLog>();
        try
        {
            async Task<ICluster> StartAsync(string last, bool discovers)
            {
                var host = BuildHost($"app@{ip}{last}", ip + last, port, discovers ? topology : null, dns, logs);
                hosts.Add(host);
                await host.StartAsync().WaitAsync(Timeout);
                var cluster = host.Services.GetRequiredService<ICluster>();
                watches.Add(ChangeLog.Start(cluster.Self.Value, cluster));
                return cluster;
            }

            var a = await StartAsync("2", discovers: true);
            var b = await StartAsync("3", discovers: false);
            var c = await StartAsync("4", discovers: false);
            var d = await StartAsync("5", discovers: false);
            await WaitConnectedAsync(a, b.Self, c.Self);
            var marks = watches.Select(w => w.Count).ToArray();
            var errorsBefore = polls.Errors;

            var outage = Stopwatch.StartNew();
            await dns.StopAsync().WaitAsync(Timeout);

            // The length of the outage is what is under test: many failed polls, and several TickTimes for the mesh.
            await Eventually.TrueAsync(
                () => polls.Errors >= errorsBefore + MinimumFailedPolls && outage.Elapsed >= 3 * TickTime,
                Timeout,
                $"{MinimumFailedPolls} polls have failed and three TickTimes have passed while dnsmasq is down");
            var failedPolls = polls.Errors - errorsBefore;
            for (var i = 0; i < watches.Count; i++)
            {
                watches[i].Snapshot(marks[i]).Should().BeEmpty("a failed lookup keeps the last set, and the mesh does not depend on discovery ({0})", watches[i].Describe(marks[i]));
            }

            a.ConnectedNodes.Should().BeEquivalentTo([b.Self, c.Self]);
            logs.WithEventId(2051).Should().ContainSingle("the outage is reported once, not once per poll");

            await dns.SetRecordsAsync(Records(ip, "2", "3", "4", "5")).WaitAsync(Timeout);
            var restarted = Stopwatch.StartNew();
            await dns.RestartAsync().WaitAsync(Timeout);
            outage.Stop();
            await WaitConnectedAsync(a, b.Self, c.Self, d.Self);
            var recovered = restarted.Elapsed;
            await Eventually.TrueAsync(() => logs.WithEventId(2053).Count > 0, Timeout, "a reports that discovery works again");
            output.WriteLine($"dnsmasq down {outage.Elapsed.TotalSeconds:0.0} s ({failedPolls} failed polls at {PollingInterval.TotalMilliseconds:0} ms, TickTime {TickTime.TotalSeconds:0} s): no change in the mesh; the node added meanwhile connected {recovered.TotalMilliseconds:0} ms after dnsmasq was back");

            for (var i = 0; i < watches.Count; i++)
            {
                watches[i].Snapshot(marks[i]).Should().NotContain(ch => ch.Kind == MembershipChangeKind.NodeDown, "nothing went down at any time ({0})", watches[i].Describe(marks[i]));
            }

            watches[0].Snapshot(marks[0]).Select(ch => ch.Node).Should().Equal([d.Self], "the only change on a is the new node");
            var lastError = polls.Errors;
            var pollsAfter = polls.Total;
            await Eventually.TrueAsync(() => polls.Total >= pollsAfter + 3, Timeout, "three more polls ran");
            polls.Errors.Should().Be(lastError, "the polls succeed again");
        }
        finally
        {
            foreach (var watch in watches)
            {
                await watch.DisposeAsync();
            }

            await Task.WhenAll(hosts.Select(h => h.StopAsync())).WaitAsync(Timeout);
            hosts.ForEach(h => h.Dispose());
        }
    }

    private static DnsRecords Records(string ip, params string[] lasts)
    {
        var records = new DnsRecords();
        foreach (var last in lasts)
        {
            records.Host(Query, ip + last);
        }

        return records;
    }

    private static async Task WaitConnectedAsync(ICluster cluster, params NodeName[] expected) =>
        await Eventually.TrueAsync(
            () => cluster.ConnectedNodes.ToHashSet().SetEquals(expected),
            Timeout,
            $"{cluster.Self} is connected to exactly {string.Join(", ", expected.Select(n => n.Value))}",
            () => $"it is connected to {string.Join(", ", cluster.ConnectedNodes.Select(n => n.Value))}");

    private static IHost BuildHost(string name, string address, int port, string? topology, DnsmasqServer dns, LogCollector logs)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = name,
            ["LibCluster:Node:Cookie"] = TestNode.Cookie,
            ["LibCluster:Node:ListenAddress"] = address,
            ["LibCluster:Node:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["LibCluster:Node:TickTime"] = TickTime.ToString("c", CultureInfo.InvariantCulture),
        };
        if (topology is not null)
        {
            settings[$"LibCluster:Topologies:{topology}:Strategy"] = "Dns";
            settings[$"LibCluster:Topologies:{topology}:Config:Query"] = Query;
            settings[$"LibCluster:Topologies:{topology}:Config:NameServer"] = dns.NameServer;
            settings[$"LibCluster:Topologies:{topology}:Config:PollingInterval"] = PollingInterval.ToString("c", CultureInfo.InvariantCulture);
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.AddProvider(logs);
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"));
        return builder.Build();
    }

    /// <summary>Counts the discovery polls and failed polls of one topology, across every host in the process.</summary>
    private sealed class PollCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;
        private long _errors;

        public PollCounter(string topology)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "LibCluster.Net" && instrument.Name is "libcluster.discovery.errors" or "libcluster.discovery.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                if (Matches(tags, topology))
                {
                    Interlocked.Add(ref _errors, value);
                }
            });
            _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
            {
                if (Matches(tags, topology))
                {
                    Interlocked.Increment(ref _total);
                }
            });
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public long Errors => Interlocked.Read(ref _errors);

        private static bool Matches(ReadOnlySpan<KeyValuePair<string, object?>> tags, string topology)
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "topology" && (string?)tag.Value == topology)
                {
                    return true;
                }
            }

            return false;
        }

        public void Dispose() => _listener.Dispose();
    }
}
