using System.Globalization;
using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Gossip;

/// <summary>Starts test node processes that discover each other with the Gossip strategy, inside test network namespaces.</summary>
internal static class GossipNodes
{
    public const string Secret = "integration-gossip-secret-0123456789abcdef";
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>The environment of a gossiping node; <paramref name="config"/> adds or overrides <c>Topologies:lan:Config</c> keys.</summary>
    public static Dictionary<string, string> Settings(string listenAddress, int port, IReadOnlyDictionary<string, string> config, string tickTime = "00:00:05")
    {
        var settings = new Dictionary<string, string>
        {
            ["LibCluster__Node__Cookie"] = TestNode.Cookie,
            ["LibCluster__Node__ListenAddress"] = listenAddress,
            ["LibCluster__Node__Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["LibCluster__Node__TickTime"] = tickTime,
            ["LibCluster__Topologies__lan__Strategy"] = "Gossip",
            ["LibCluster__Topologies__lan__Config__HeartbeatInterval"] = "00:00:00.2",
            ["LibCluster__Topologies__lan__Config__Secret"] = Secret,
        };
        foreach (var (key, value) in config)
        {
            settings[$"LibCluster__Topologies__lan__Config__{key}"] = value;
        }

        return settings;
    }

    public static async Task WaitListeningAsync(IEnumerable<NodeProcess> processes)
    {
        foreach (var process in processes)
        {
            await process.WaitForLineAsync(l => l.StartsWith("LISTENING", StringComparison.Ordinal), Timeout, "it listens");
        }
    }

    public static async Task WaitForFullMeshAsync(IReadOnlyList<NodeProcess> processes)
    {
        foreach (var process in processes)
        {
            var others = processes.Where(p => p != process).Select(p => p.Name).ToHashSet();
            try
            {
                await Eventually.TrueAsync(() => process.ConnectedNodes().SetEquals(others) || process.HasExited, Timeout, $"{process.Name} is connected to {string.Join(", ", others)}");
            }
            catch (TimeoutException ex)
            {
                throw new TimeoutException($"{ex.Message}\nOutput:\n{string.Join('\n', process.Lines)}\nLog:\n{process.Log}", ex);
            }

            process.HasExited.Should().BeFalse($"{process.Name} must keep running; log:\n{process.Log}");
        }
    }

    public static async Task DisposeAllAsync(IEnumerable<NodeProcess> processes)
    {
        foreach (var process in processes)
        {
            await process.DisposeAsync();
        }
    }
}
