using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using LibCluster.Eureka.Tests.Support;
using LibCluster.SampleTests.Support;
using Xunit.Abstractions;

namespace LibCluster.SampleTests;

/// <summary>
/// Cloud Foundry simulated on this machine: the published sample app started 4 times, as separate processes, with a
/// manifest's start command (run by bash in the pushed folder, as Cloud Foundry runs it) and env, and the environment
/// Cloud Foundry gives each instance (<c>PORT</c>, <c>CF_INSTANCE_*</c>, <c>VCAP_APPLICATION</c>, and for manifest.yml
/// <c>VCAP_SERVICES</c> with a <c>p.service-registry</c> binding to the in-process Eureka stand-in and its OAuth token
/// endpoint; for manifest-internal-route.yml a dnsmasq answering <c>my-clustered-app.apps.internal</c>).
/// </summary>
[Collection(SampleProcesses.Name)]
public sealed class CloudFoundryTests(PublishedSampleApp app, ITestOutputHelper output) : IClassFixture<PublishedSampleApp>
{
    private const string AppName = "my-clustered-app";
    private const string InternalRoute = "my-clustered-app.apps.internal";
    private const int InstanceCount = 4;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private static readonly CfManifest Manifest = CfManifest.Load("manifest.yml");
    private static readonly CfManifest InternalRouteManifest = CfManifest.Load("manifest-internal-route.yml");

    [Fact]
    public void Manifest_AsWritten_HasFourInstancesTheBuildpackTheNodeNameAFixedPortTheRegistryAndProduction()
    {
        Manifest.Value("name").Should().Be(AppName);
        Manifest.Value("instances").Should().Be("4");
        Manifest.List("buildpacks").Should().Equal("dotnet_core_buildpack");
        Manifest.Value("command").Should().Contain("LibCluster__Node__Name=\"app${CF_INSTANCE_INDEX}@${CF_INSTANCE_INTERNAL_IP}\"")
            .And.Contain("exec dotnet MyClusteredApp.dll");
        Manifest.Map("env").Should().Contain("LibCluster__Node__Port", "9001").And.Contain("ASPNETCORE_ENVIRONMENT", "Production");
        Manifest.List("services").Should().Equal("service-registry");
        Manifest.Value("path").Should().Be("bin/publish");
        Manifest.MemoryMegabytes.Should().BeInRange(64, 512);
        foreach (var manifest in new[] { Manifest, InternalRouteManifest })
        {
            manifest.Map("env").Keys.Should().NotContain(k => k.Contains("Cookie", StringComparison.OrdinalIgnoreCase), "the cookie is a secret: cf set-env, not the manifest");
        }
    }

    [LinuxFact]
    public async Task ManifestCommand_FourInstancesOnCloudFoundryWithEureka_EachSeesTheThreeOthersAndAStoppedOneLeavesEverywhere()
    {
        await using var registry = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { RequireOAuth = true });
        var ports = FreePorts.Take(InstanceCount * 2);
        var cookie = NewCookie();
        var names = Enumerable.Range(0, InstanceCount).Select(i => $"app{Dotnet.Text(i)}@127.0.0.1").ToArray();
        var instances = new List<Instance>();
        for (var i = 0; i < InstanceCount; i++)
        {
            var extra = new Dictionary<string, string?>
            {
                ["VCAP_SERVICES"] = VcapServices(registry),

                // On Cloud Foundry every instance has its own container IP and they all use the manifest's dist port
                // 9001. Here they share one IP, 127.0.0.1 (so their names differ only by CF_INSTANCE_INDEX, as they
                // would anyway), and so need a dist port each; the Eureka registration carries each node's port, so
                // the others still find it.
                ["LibCluster__Node__Port"] = Dotnet.Text(ports[InstanceCount + i]),
                ["LibCluster__Node__Cookie"] = cookie,

                // Test-only: poll the registry every second instead of every 10 s (the default), to keep the test short.
                ["LibCluster__Topologies__eureka__Config__PollingInterval"] = "00:00:01",
            };
            instances.Add(new Instance(names[i], ports[i], StartInstance(Manifest, i, "127.0.0.1", ports[i], extra)));
        }

        await RunScenarioAsync(
            Manifest,
            instances,
            onConverged: () =>
            {
                // What the registry holds: one registration per instance, as the container-to-container setup wants it.
                var registered = registry.Instances(AppName);
                registered.Select(r => r.Metadata("libcluster.node")).Should().BeEquivalentTo(names);
                for (var i = 0; i < InstanceCount; i++)
                {
                    var entry = registered.Single(r => r.Metadata("libcluster.node") == names[i]);
                    entry.InstanceId.Should().Be($"127.0.0.1:{InstanceGuid(i)}");
                    entry.Metadata("libcluster.port").Should().Be(Dotnet.Text(ports[InstanceCount + i]));
                    entry.Metadata("cfInstanceIndex").Should().Be(Dotnet.Text(i));
                }

                registry.Count("token").Should().BeGreaterThan(0, "the binding's OAuth client gets a token");
            },
            onOneStopped: () => registry.Instances(AppName).Select(r => r.Metadata("libcluster.node"))
                .Should().BeEquivalentTo(names[..^1], "a graceful stop deregisters"),
            onAllStopped: () => registry.Instances(AppName).Should().BeEmpty());
    }

    [DnsmasqFact]
    public Task InternalRouteManifestCommand_FourInstancesFoundThroughAppsInternalDns_EachSeesTheThreeOthersAndAStoppedOneLeavesEverywhere() =>
        RunInternalRouteAsync(app.Folder, InternalRouteManifest.Map("env"));

    [DnsmasqFact]
    public async Task InternalRouteAppsettingsFromDocs_FourInstancesFoundThroughAppsInternalDns_EachSeesTheThreeOthersAndAStoppedOneLeavesEverywhere()
    {
        // docs/cloud-foundry.md's appsettings.Production.json for the internal route, in place of the published one (in a
        // copy of the published app), and the manifest's env without its topology settings.
        using var copy = new TempDirectory("publish-dns");
        foreach (var file in Directory.EnumerateFiles(app.Folder, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy.Path, Path.GetRelativePath(app.Folder, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        File.WriteAllText(copy.Combine("appsettings.Production.json"), DocSnippets.Get("cloud-foundry.md", "cloud-foundry", "appsettings.Production.json"));
        var env = InternalRouteManifest.Map("env").Where(e => !e.Key.StartsWith("LibCluster__Topologies__", StringComparison.Ordinal)).ToDictionary();
        await RunInternalRouteAsync(copy.Path, env);
    }

    /// <summary>
    /// Four instances of the app in <paramref name="folder"/>, started with manifest-internal-route.yml's command and
    /// <paramref name="manifestEnv"/>, find each other through a DNS server answering the internal route.
    /// </summary>
    private async Task RunInternalRouteAsync(string folder, IReadOnlyDictionary<string, string> manifestEnv)
    {
        // Cloud Foundry's internal DNS answers the internal route with every instance's container IP. Here the
        // "containers" are 127.0.0.2 to 127.0.0.5 (all loopback), so that they can share one dist port as on Cloud Foundry.
        var addresses = Enumerable.Range(0, InstanceCount).Select(i => $"127.0.0.{Dotnet.Text(i + 2)}").ToArray();
        await using var dns = await Dnsmasq.StartAsync("apps.internal", addresses.Select(a => (InternalRoute, a)));
        var ports = FreePorts.Take(InstanceCount + 1);
        var distPort = ports[^1];
        var cookie = NewCookie();
        var instances = new List<Instance>();
        for (var i = 0; i < InstanceCount; i++)
        {
            var extra = new Dictionary<string, string?>
            {
                ["LibCluster__Node__Port"] = Dotnet.Text(distPort),
                ["LibCluster__Node__ListenAddress"] = addresses[i],
                ["LibCluster__Node__Cookie"] = cookie,

                // Test-only: ask this DNS server (a container asks the platform's), every second instead of every 5 s.
                ["LibCluster__Topologies__internal__Config__NameServer"] = dns.NameServer,
                ["LibCluster__Topologies__internal__Config__PollingInterval"] = "00:00:01",
            };
            var process = StartInstance(InternalRouteManifest.Value("command"), manifestEnv, folder, i, addresses[i], ports[i], extra);
            instances.Add(new Instance($"app@{addresses[i]}", ports[i], process));
        }

        await RunScenarioAsync(InternalRouteManifest, instances, onConverged: () => { }, onOneStopped: () => { }, onAllStopped: () => { }, context: () => dns.Output);
    }

    [LinuxFact]
    public async Task ManifestCommand_ProductionWithoutCookie_FailsAtStartNamingTheEnvironmentVariable()
    {
        await using var registry = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { RequireOAuth = true });
        var ports = FreePorts.Take(2);
        var extra = new Dictionary<string, string?>
        {
            ["VCAP_SERVICES"] = VcapServices(registry),
            ["LibCluster__Node__Port"] = Dotnet.Text(ports[1]),
        };
        await using var instance = StartInstance(Manifest, 0, "127.0.0.1", ports[0], extra);

        var exitCode = await instance.WaitForExitAsync(StartTimeout);

        output.WriteLine(instance.Output);
        exitCode.Should().NotBe(0);
        instance.Output.Should().Contain("LibCluster:Node:Cookie is required").And.Contain("LibCluster__Node__Cookie");
        registry.Count("register").Should().Be(0, "an instance that cannot start must not register");
    }

    /// <summary>
    /// All instances converge (every GET / shows the three others; ready), fit in the manifest's memory; the last one
    /// gets SIGTERM (Cloud Foundry's stop) and leaves everywhere at once (GOODBYE); then the rest stop, all exiting 0.
    /// </summary>
    private async Task RunScenarioAsync(CfManifest manifest, List<Instance> instances, Action onConverged, Action onOneStopped, Action onAllStopped, Func<string>? context = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var names = instances.Select(i => i.Name).ToArray();
        var views = new string?[instances.Count];
        string Describe() =>
            string.Join('\n', views.Select((v, i) => $"{names[i]}: {v ?? "(no answer)"}"))
            + "\n" + string.Join('\n', instances.Where(i => i.Process.HasExited).Select(i => $"{i.Process} exited with {i.Process.ExitCode.ToString(CultureInfo.InvariantCulture)}:\n{i.Process.Tail(30)}"))
            + (context is null ? string.Empty : "\n" + context());

        async Task<bool> AllShowAsync(IReadOnlyList<Instance> running)
        {
            for (var i = 0; i < running.Count; i++)
            {
                views[i] = await TryGetAsync(http, running[i].HttpPort, "/");
            }

            return running.Select((instance, i) => Shows(views[i], instance.Name, running.Where(o => o != instance).Select(o => o.Name))).All(ok => ok);
        }

        try
        {
            await Eventually.TrueAsync(() => AllShowAsync(instances), StartTimeout, "every GET / shows the three others", Describe);
            foreach (var view in views)
            {
                output.WriteLine(view);
            }

            onConverged();

            // LibCluster__MinNodes=3: ready only while connected to all three others.
            foreach (var instance in instances)
            {
                (await StatusAsync(http, instance.HttpPort, "/health/ready")).Should().Be(HttpStatusCode.OK);
            }

            // Cloud Foundry counts resident memory against the manifest's limit: one idle instance must fit with room to spare.
            var limit = manifest.MemoryMegabytes * 1024L * 1024L;
            foreach (var instance in instances)
            {
                var rss = instance.Process.WorkingSet;
                output.WriteLine($"{instance.Process}: working set {rss / (1024.0 * 1024.0):0.0} MiB (manifest memory {manifest.MemoryMegabytes} MiB)");
                rss.Should().BeLessThan(limit * 3 / 4, $"{instance.Process} must fit in the manifest's memory with headroom");
            }

            // Cloud Foundry stops an instance with SIGTERM (scale down, restart): it says GOODBYE and leaves at once.
            var leaving = instances[^1];
            leaving.Process.Signal(Signals.SigTerm);
            (await leaving.Process.WaitForExitAsync(StopTimeout)).Should().Be(0, leaving.Process.Tail());

            var remaining = instances[..^1];
            await Eventually.TrueAsync(() => AllShowAsync(remaining), TimeSpan.FromSeconds(20), $"every remaining GET / shows only the two others, without {leaving.Name}", Describe);
            foreach (var instance in remaining)
            {
                // Through GOODBYE, not because a tick or a discovery poll noticed.
                await instance.Process.WaitForLineAsync(l => l.Contains($"Node down: {leaving.Name} (shutdown)", StringComparison.Ordinal), TimeSpan.FromSeconds(5), $"that {leaving.Name} left");
                (await StatusAsync(http, instance.HttpPort, "/health/ready")).Should().Be(HttpStatusCode.ServiceUnavailable, "two peers are fewer than LibCluster__MinNodes");
            }

            onOneStopped();

            // And the rest stop as cleanly.
            foreach (var instance in remaining)
            {
                instance.Process.Signal(Signals.SigTerm);
            }

            foreach (var instance in remaining)
            {
                (await instance.Process.WaitForExitAsync(StopTimeout)).Should().Be(0, instance.Process.Tail());
            }

            onAllStopped();
        }
        finally
        {
            foreach (var instance in instances)
            {
                output.WriteLine($"----- {instance.Process}\n{instance.Process.Tail(60)}");
                await instance.Process.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Starts instance <paramref name="index"/> as Cloud Foundry would: <c>bash -c "{manifest command}"</c> in the pushed
    /// folder, with the manifest's env, the instance's own environment, and <paramref name="extra"/> (which wins).
    /// </summary>
    private ChildProcess StartInstance(CfManifest manifest, int index, string internalIp, int httpPort, Dictionary<string, string?> extra) =>
        StartInstance(manifest.Value("command"), manifest.Map("env"), app.Folder, index, internalIp, httpPort, extra);

    private static ChildProcess StartInstance(
        string command, IReadOnlyDictionary<string, string> manifestEnv, string folder, int index, string internalIp, int httpPort, Dictionary<string, string?> extra)
    {
        var info = new ProcessStartInfo("/bin/bash") { WorkingDirectory = folder };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(command);
        Dotnet.Clean(info);
        var environment = info.Environment;
        foreach (var (key, value) in manifestEnv)
        {
            environment[key] = value;
        }

        // What Cloud Foundry sets in every instance's container.
        environment["PORT"] = Dotnet.Text(httpPort);
        environment["CF_INSTANCE_INDEX"] = Dotnet.Text(index);
        environment["CF_INSTANCE_GUID"] = InstanceGuid(index);
        environment["CF_INSTANCE_INTERNAL_IP"] = internalIp;
        environment["CF_INSTANCE_IP"] = "127.0.0.1";
        environment["CF_INSTANCE_PORT"] = Dotnet.Text(httpPort);
        environment["CF_INSTANCE_ADDR"] = $"127.0.0.1:{Dotnet.Text(httpPort)}";
        environment["VCAP_APPLICATION"] = VcapApplication(index);

        // The .NET buildpack's profile.d sets ASPNETCORE_URLS=http://0.0.0.0:$PORT; here the app listens on loopback only,
        // and so does the dist listener (Cloud Foundry's default of 0.0.0.0 is right inside a container).
        environment["ASPNETCORE_URLS"] = $"http://127.0.0.1:{Dotnet.Text(httpPort)}";
        environment["LibCluster__Node__ListenAddress"] = "127.0.0.1";

        // Test-only: report ready only with all three peers, so that the health check is exercised.
        environment["LibCluster__MinNodes"] = Dotnet.Text(InstanceCount - 1);

        foreach (var (key, value) in extra)
        {
            environment[key] = value;
        }

        return ChildProcess.Start($"app{Dotnet.Text(index)}", info);
    }

    private static string InstanceGuid(int index) => $"6f1c2a4e-0b7d-4c1e-9a55-3d2e8f7c0a{Dotnet.Text(index).PadLeft(2, '0')}";

    private static string VcapApplication(int index) => new JsonObject
    {
        ["application_id"] = "0b5f7c2d-8e1a-4f3b-9c6d-2a7e4b1f8c90",
        ["application_name"] = AppName,
        ["application_uris"] = new JsonArray("my-clustered-app.apps.example.com"),
        ["application_version"] = "3c1e9f0a-6b2d-4e8f-a7c5-1d9b3e6f2a48",
        ["cf_api"] = "https://api.sys.example.com",
        ["limits"] = new JsonObject { ["disk"] = 1024, ["fds"] = 16384, ["mem"] = 160 },
        ["name"] = AppName,
        ["organization_name"] = "demo",
        ["space_name"] = "dev",
        ["uris"] = new JsonArray("my-clustered-app.apps.example.com"),
        ["instance_id"] = InstanceGuid(index),
    }.ToJsonString();

    /// <summary>A Spring Cloud Services 3.x service registry binding (label p.service-registry, tag eureka) pointing at the stand-in.</summary>
    private static string VcapServices(FakeEurekaServer registry) => new JsonObject
    {
        ["p.service-registry"] = new JsonArray(new JsonObject
        {
            ["binding_name"] = null,
            ["credentials"] = new JsonObject
            {
                ["uri"] = registry.BaseUri.AbsoluteUri.TrimEnd('/'),
                ["client_id"] = registry.Options.ClientId,
                ["client_secret"] = registry.Options.ClientSecret,
                ["access_token_uri"] = registry.TokenUri.AbsoluteUri,
            },
            ["instance_name"] = "service-registry",
            ["label"] = "p.service-registry",
            ["name"] = "service-registry",
            ["plan"] = "standard",
            ["provider"] = null,
            ["syslog_drain_url"] = null,
            ["tags"] = new JsonArray("eureka", "discovery", "registry", "spring-cloud"),
            ["volume_mounts"] = new JsonArray(),
        }),
    }.ToJsonString();

    private static string NewCookie() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(36));

    private static bool Shows(string? view, string self, IEnumerable<string> others)
    {
        if (view is null)
        {
            return false;
        }

        using var json = JsonDocument.Parse(view);
        return json.RootElement.GetProperty("current_node").GetString() == self
            && json.RootElement.GetProperty("connected_nodes").EnumerateArray().Select(n => n.GetString()).SequenceEqual(others.Order(StringComparer.Ordinal));
    }

    private static async Task<string?> TryGetAsync(HttpClient http, int port, string path)
    {
        try
        {
            return await http.GetStringAsync(new Uri($"http://127.0.0.1:{Dotnet.Text(port)}{path}"));
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static async Task<HttpStatusCode> StatusAsync(HttpClient http, int port, string path)
    {
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{Dotnet.Text(port)}{path}"));
        return response.StatusCode;
    }

    private sealed record Instance(string Name, int HttpPort, ChildProcess Process);
}
