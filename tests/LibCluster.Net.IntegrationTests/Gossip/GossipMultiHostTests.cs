using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Gossip;

/// <summary>
/// Three hosts, each a network namespace with its own address on a private test LAN (a bridge in a namespace of its
/// own, see <see cref="NetworkNamespaceLan"/>), each running a node process on the same port: they find each other by
/// multicast (IPv4 and IPv6) or broadcast over the bridge and form a full mesh.
/// </summary>
public sealed class GossipMultiHostTests
{
    private const int HostCount = 3;

    [RootFact]
    public async Task Gossip_ThreeHostsOverIPv4Multicast_FormAFullMesh()
    {
        await using var lan = await NetworkNamespaceLan.CreateAsync(HostCount);

        await RunClusterAsync(lan, host => ($"h@{host.IPv4}", host.IPv4, new Dictionary<string, string> { ["MulticastInterface"] = host.IPv4 }));
    }

    [RootFact]
    public async Task Gossip_ThreeHostsOverIPv6Multicast_FormAFullMesh()
    {
        await using var lan = await NetworkNamespaceLan.CreateAsync(HostCount);

        await RunClusterAsync(lan, host => ($"h@{host.IPv6}", host.IPv6, new Dictionary<string, string>
        {
            ["MulticastAddress"] = "ff12::4c43:1",
            ["MulticastInterface"] = host.IPv6,
        }));
    }

    [RootFact]
    public async Task Gossip_ThreeHostsOverBroadcast_FormAFullMesh()
    {
        await using var lan = await NetworkNamespaceLan.CreateAsync(HostCount);

        await RunClusterAsync(lan, host => ($"h@{host.IPv4}", host.IPv4, new Dictionary<string, string>
        {
            ["BroadcastOnly"] = "true",
            ["MulticastInterface"] = host.IPv4,
        }));
    }

    private static async Task RunClusterAsync(NetworkNamespaceLan lan, Func<LanHost, (string Name, string ListenAddress, Dictionary<string, string> Config)> describe)
    {
        // Every node listens on the default port 9001 of its own host, as in a real deployment.
        var processes = lan.Hosts.Select(host =>
        {
            var (name, listen, config) = describe(host);
            return NodeProcess.Start(name, GossipNodes.Settings(listen, 9001, config), host.Namespace.CommandPrefix);
        }).ToList();
        try
        {
            await GossipNodes.WaitListeningAsync(processes);
            await GossipNodes.WaitForFullMeshAsync(processes);
        }
        finally
        {
            await GossipNodes.DisposeAllAsync(processes);
        }
    }
}
