using LibCluster.Eureka.CloudFoundry;
using LibCluster.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>
/// A whole LibCluster host, built as an application builds it (AddLibCluster + AddEureka, in-memory configuration),
/// listening on its own loopback port (port 0) with one topology <c>cf</c> of the Eureka strategy.
/// </summary>
internal sealed class EurekaNode : IAsyncDisposable
{
    public const string Cookie = "eureka-tests-cookie-0123456789abcdef-0123456789";

    private bool _stopped;

    private EurekaNode(string name, IHost host, LogCollector logs)
    {
        Name = name;
        Host = host;
        Logs = logs;
        Cluster = host.Services.GetRequiredService<ICluster>();
    }

    public string Name { get; }

    public IHost Host { get; }

    public ICluster Cluster { get; }

    public LogCollector Logs { get; }

    /// <summary>The node names this node is connected to, sorted.</summary>
    public IReadOnlyList<string> Connected => Cluster.ConnectedNodes.Select(n => n.Value).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Settings for fast tests: poll every 200 ms, renew every 300 ms, a 3 s lease.</summary>
    public static Dictionary<string, string?> FastConfig(FakeEurekaServer server, string appName = "my-clustered-app") => new()
    {
        ["ServiceUrl"] = server.ServiceUrl.ToString(),
        ["AppName"] = appName,
        ["PollingInterval"] = "00:00:00.2",
        ["RenewalInterval"] = "00:00:00.3",
        ["LeaseDuration"] = "00:00:03",
    };

    public static EurekaNode Create(string name, IReadOnlyDictionary<string, string?> eurekaConfig, IEnvironmentVariables? environment = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = name,
            ["LibCluster:Node:Cookie"] = Cookie,
            ["LibCluster:Node:ListenAddress"] = "127.0.0.1",
            ["LibCluster:Node:Port"] = "0",
            ["LibCluster:Topologies:cf:Strategy"] = "Eureka",
        };
        foreach (var (key, value) in eurekaConfig)
        {
            settings[$"LibCluster:Topologies:cf:Config:{key}"] = value;
        }

        var logs = new LogCollector();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Debug).AddProvider(logs);
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster")).AddEureka(environment ?? FakeEnvironment.Empty);
        return new EurekaNode(name, builder.Build(), logs);
    }

    public static async Task<EurekaNode[]> StartManyAsync(int count, Func<int, EurekaNode> create)
    {
        var nodes = Enumerable.Range(0, count).Select(create).ToArray();
        await Task.WhenAll(nodes.Select(n => n.Host.StartAsync())).WaitAsync(TimeSpan.FromSeconds(30));
        return nodes;
    }

    public async Task StopAsync()
    {
        if (!_stopped)
        {
            _stopped = true;
            await Host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Host.Dispose();
    }

    public override string ToString() => $"{Name} -> [{string.Join(", ", Connected)}]";
}
