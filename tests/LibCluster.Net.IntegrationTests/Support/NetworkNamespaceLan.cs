using System.Security.Cryptography;

namespace LibCluster.IntegrationTests.Support;

/// <summary>One host of a <see cref="NetworkNamespaceLan"/>: its namespace and its addresses on <c>eth0</c>.</summary>
internal sealed record LanHost(NetworkNamespace Namespace, string IPv4, string IPv6);

/// <summary>
/// A private test LAN made of network namespaces only: a bridge <c>br0</c> in a namespace of its own and one namespace
/// per host, each with an <c>eth0</c> (one end of a veth pair whose other end is a port of the bridge), an address in
/// <c>10.77.N.0/24</c> and one in <c>fd77:N::/64</c> (N random). The veth pairs are created inside the bridge's
/// namespace and moved into the hosts' namespaces: no interface of this LAN ever exists in the machine's own
/// namespace, and none is connected to a real interface, so its traffic (multicast and broadcast included) stays in
/// the namespaces the test created. Disposing deletes every namespace by name, which removes the veths and the bridge.
/// </summary>
internal sealed class NetworkNamespaceLan : IAsyncDisposable
{
    private readonly List<NetworkNamespace> _namespaces = [];

    private NetworkNamespaceLan()
    {
    }

    public IReadOnlyList<LanHost> Hosts { get; private set; } = [];

    /// <summary>The third byte of the IPv4 subnet (and the second group of the IPv6 prefix).</summary>
    public int Subnet { get; private set; }

    public static async Task<NetworkNamespaceLan> CreateAsync(int hostCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hostCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostCount, 200);
        var lan = new NetworkNamespaceLan { Subnet = RandomNumberGenerator.GetInt32(1, 255) };
        try
        {
            var bridge = await NetworkNamespace.CreateAsync();
            lan._namespaces.Add(bridge);
            await bridge.IpAsync("link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
            await bridge.IpAsync("link", "set", "br0", "up");

            var hosts = new List<LanHost>();
            for (var i = 0; i < hostCount; i++)
            {
                var host = await NetworkNamespace.CreateAsync();
                lan._namespaces.Add(host);
                var port = $"v{i}";
                await bridge.IpAsync("link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", host.Name);
                await bridge.IpAsync("link", "set", port, "master", "br0", "up");
                var ipv4 = $"10.77.{lan.Subnet}.{i + 1}";
                var ipv6 = $"fd77:{lan.Subnet:x}::{i + 1:x}";
                await host.IpAsync("addr", "add", $"{ipv4}/24", "dev", "eth0");
                await host.IpAsync("-6", "addr", "add", $"{ipv6}/64", "dev", "eth0", "nodad");
                await host.IpAsync("link", "set", "eth0", "up");
                hosts.Add(new LanHost(host, ipv4, ipv6));
            }

            lan.Hosts = hosts;
            return lan;
        }
        catch
        {
            await lan.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var space in _namespaces)
        {
            await space.DisposeAsync();
        }

        _namespaces.Clear();
    }
}
