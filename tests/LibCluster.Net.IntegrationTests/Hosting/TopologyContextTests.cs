using System.Runtime.CompilerServices;
using LibCluster.Hosting;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using LibCluster.Topology;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LibCluster.IntegrationTests.Hosting;

/// <summary>What a strategy learns about its node from a real host.</summary>
public sealed class TopologyContextTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Start_CustomStrategy_SeesTheNodesNameCreationAndBoundPort()
    {
        var seen = new TaskCompletionSource<TopologyContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = "observer@127.0.0.1",
            ["LibCluster:Node:Cookie"] = TestNode.Cookie,
            ["LibCluster:Node:ListenAddress"] = "127.0.0.1",
            ["LibCluster:Node:Port"] = "0",
            ["LibCluster:Topologies:mine:Strategy"] = "Recording",
        });
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"))
            .AddStrategy<RecordingOptions>("Recording", static (config, options) => config.Bind(options), (_, _) => new RecordingStrategy(seen), validate: null);
        using var host = builder.Build();
        await host.StartAsync().WaitAsync(Timeout);
        try
        {
            var context = await seen.Task.WaitAsync(Timeout);
            var cluster = host.Services.GetRequiredService<ICluster>();

            context.TopologyName.Should().Be("mine");
            context.Self.Should().Be(cluster.Self);
            context.Creation.Should().Be(cluster.Creation).And.NotBe(0u);
            context.DefaultPort.Should().BeGreaterThan(0, "port 0 means a free port, and the strategy gets the one bound");
            using var probe = new System.Net.Sockets.TcpClient();
            await probe.ConnectAsync(System.Net.IPAddress.Loopback, context.DefaultPort).WaitAsync(Timeout);
        }
        finally
        {
            await host.StopAsync().WaitAsync(Timeout);
        }
    }

    public sealed class RecordingOptions
    {
        public string? Unused { get; set; }
    }

    private sealed class RecordingStrategy(TaskCompletionSource<TopologyContext> seen) : ITopologyStrategy
    {
        public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(TopologyContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            seen.TrySetResult(context);
            await Task.Delay(System.Threading.Timeout.Infinite, cancellationToken);
            yield break;
        }
    }
}
