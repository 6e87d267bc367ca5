using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace LocalCluster;

/// <summary>One node: a generic host with AddLibCluster, a Static topology naming all nodes, and a "ping" mailbox.</summary>
internal static class NodeMain
{
    // A demo secret for a cluster that lives on one machine. Real clusters read theirs from the environment
    // (LibCluster__Node__Cookie) or a secret store.
    private const string DemoCookie = "local-demo-cookie-not-a-secret-0123456789";

    public static async Task<int> RunAsync(int index, string portList)
    {
        var ports = portList.Split(',').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddLibCluster(options =>
        {
            options.Node.Name = $"app{index}@127.0.0.1";
            options.Node.Cookie = DemoCookie;
            options.Node.ListenAddress = "127.0.0.1";
            options.Node.Port = ports[index];
            options.Topologies["local"] = new LibCluster.Hosting.TopologyOptions { Strategy = "Static" }
                .Configure<LibCluster.Strategies.Static.StaticStrategyOptions>(s =>
                {
                    for (var i = 0; i < ports.Length; i++)
                    {
                        s.Nodes.Add($"app{i}@127.0.0.1:{ports[i]}");
                    }
                });
        });

        using var host = builder.Build();
        var cluster = host.Services.GetRequiredService<ICluster>();
        using var ping = cluster.Register("ping", (message, ct) => message.ReplyAsync(message.Payload, ct));
        await host.StartAsync();

        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        _ = Task.Run(async () =>
        {
            // The launcher closes our stdin to ask us to stop.
            var buffer = new byte[64];
            using var input = Console.OpenStandardInput();
            while (await input.ReadAsync(buffer) > 0)
            {
            }

            lifetime.StopApplication();
        });

        var printing = PrintViewsAsync(cluster, ports.Length - 1, lifetime.ApplicationStopping);
        await host.WaitForShutdownAsync();
        await printing;
        return 0;
    }

    private static async Task PrintViewsAsync(ICluster cluster, int peers, CancellationToken stopping)
    {
        try
        {
            await foreach (var change in cluster.WatchAsync(stopping))
            {
                var connected = cluster.ConnectedNodes.Select(n => n.Value).Order(StringComparer.Ordinal).ToArray();
                var view = JsonSerializer.Serialize(new Dictionary<string, object> { ["current_node"] = cluster.Self.Value, ["connected_nodes"] = connected });
                var what = change.Kind == MembershipChangeKind.NodeUp ? $"{change.Node} up" : $"{change.Node} down ({change.Reason})";
                Console.WriteLine($"[{cluster.Self}] {what}: {view}");
                if (change.Kind == MembershipChangeKind.NodeUp && connected.Length == peers)
                {
                    await PingAllAsync(cluster, stopping);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task PingAllAsync(ICluster cluster, CancellationToken stopping)
    {
        foreach (var node in cluster.ConnectedNodes.Order())
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                await cluster.RequestAsync(node, "ping", "ping"u8.ToArray(), TimeSpan.FromSeconds(5), stopping);
                Console.WriteLine($"[{cluster.Self}] ping {node}: {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.00} ms round trip through its 'ping' mailbox");
            }
            catch (LibCluster.ClusterException ex)
            {
                Console.WriteLine($"[{cluster.Self}] ping {node} failed: {ex.Message}");
            }
        }
    }
}
