using System.Diagnostics;
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

/// <summary>A host's stop is bounded by its deadline, whatever the strategies and handlers do.</summary>
public sealed class ShutdownTests
{
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(1);

    // Time the host may take beyond its deadline (scheduling, the GOODBYEs) before the stop counts as held up.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task StopAsync_StrategyAndHandlerIgnoreCancellation_StopAndDisposeKeepTheDeadline()
    {
        var neverEnds = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var strategyStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handlerStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = "stubborn@127.0.0.1",
            ["LibCluster:Node:Cookie"] = TestNode.Cookie,
            ["LibCluster:Node:ListenAddress"] = "127.0.0.1",
            ["LibCluster:Node:Port"] = "0",
            ["LibCluster:Topologies:mine:Strategy"] = "Stubborn",
        });
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"))
            .AddStrategy<StubbornOptions>(
                "Stubborn",
                static (config, options) => config.Bind(options),
                (_, _) => new StubbornStrategy(strategyStarted, neverEnds.Task),
                validate: null);
        var host = builder.Build();
        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var cluster = host.Services.GetRequiredService<ICluster>();
        using var mailbox = cluster.Register("stuck", async (_, _) =>
        {
            handlerStarted.TrySetResult();
            await neverEnds.Task;
        });
        await cluster.SendAsync(cluster.Self, "stuck", new byte[1]);
        await Task.WhenAll(strategyStarted.Task, handlerStarted.Task).WaitAsync(TimeSpan.FromSeconds(10));

        var clock = Stopwatch.StartNew();
        using (var deadline = new CancellationTokenSource(StopDeadline))
        {
            await host.StopAsync(deadline.Token).WaitAsync(StopDeadline + Slack);
        }

        var stopped = clock.Elapsed;
        await Task.Run(host.Dispose).WaitAsync(Slack);
        var disposed = clock.Elapsed - stopped;
        neverEnds.TrySetResult();

        stopped.Should().BeLessThan(StopDeadline + Slack, "the stop gives up on what ignores cancellation at its deadline");
        disposed.Should().BeLessThan(Slack, "disposing the host after its stop does not wait for them again");
    }

    public sealed class StubbornOptions
    {
        public string? Unused { get; set; }
    }

    /// <summary>A strategy that never looks at its cancellation token: a stand-in for a buggy third-party strategy.</summary>
    private sealed class StubbornStrategy(TaskCompletionSource started, Task neverEnds) : ITopologyStrategy
    {
        public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(TopologyContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            started.TrySetResult();
            await neverEnds;
            yield break;
        }
    }
}
