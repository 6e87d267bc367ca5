using System.Security.Cryptography;
using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;

namespace LibCluster.IntegrationTests.Gossip;

/// <summary>
/// Gossip strategies in the test process, with real sockets in a test network namespace (loopback only), facing
/// strangers: another cluster's secret, garbage, truncated, altered, replayed and stale packets.
/// </summary>
public sealed class GossipSecurityTests
{
    private const string Group = "233.252.1.32";
    private const int Port = 45892;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static GossipStrategyOptions Options(string secret = GossipNodes.Secret) => new()
    {
        MulticastInterface = "127.0.0.1",
        HeartbeatInterval = TimeSpan.FromMilliseconds(200),
        Secret = secret,
    };

    private static bool Holds(IReadOnlySet<NodeAddress> set, params GossipPeer[] peers) =>
        set.SetEquals(peers.Select(p => new NodeAddress(p.Name, p.Port)));

    [RootFact]
    public async Task Gossip_NodeWithAWrongSecret_NeverJoins()
    {
        await using var space = await NetworkNamespace.CreateAsync();
        await using var a = GossipPeer.Start(space, "a@127.0.0.1", 9001, Options());
        await using var b = GossipPeer.Start(space, "b@127.0.0.1", 9002, Options());
        await using var stranger = GossipPeer.Start(space, "c@127.0.0.1", 9003, Options("a-different-secret-of-another-cluster-0123"));

        await a.WaitForSetAsync(s => Holds(s, b), Timeout, "a hears b");
        await b.WaitForSetAsync(s => Holds(s, a), Timeout, "b hears a");

        // Several of the stranger's heartbeats reached a and b and were refused; the stranger refused theirs too.
        await a.WaitForDropsAsync(GossipDropReasons.WrongCluster, 5, Timeout);
        await b.WaitForDropsAsync(GossipDropReasons.WrongCluster, 5, Timeout);
        await stranger.WaitForDropsAsync(GossipDropReasons.WrongCluster, 10, Timeout);

        a.History.Should().NotContain(s => s.Any(n => n.Name == stranger.Name));
        b.History.Should().NotContain(s => s.Any(n => n.Name == stranger.Name));
        stranger.History.Should().NotContain(s => s.Count > 0, "the stranger hears nobody it can authenticate");
        a.Dropped(GossipDropReasons.BadSeal).Should().Be(0, "another secret is told apart from a forgery by its key id");
    }

    [RootFact]
    public async Task Gossip_GarbageTruncatedAlteredReplayedAndStalePackets_ChangeNothing()
    {
        await using var space = await NetworkNamespace.CreateAsync();
        using var probe = GossipProbe.Open(space, Group, Port, "127.0.0.1");
        using var key = GossipKey.Derive(GossipNodes.Secret);
        await using var a = GossipPeer.Start(space, "a@127.0.0.1", 9001, Options());
        var b = GossipPeer.Start(space, "b@127.0.0.1", 9002, Options());
        byte[] captured;
        try
        {
            await a.WaitForSetAsync(s => Holds(s, b), Timeout, "a hears b");
            captured = await probe.CaptureAsync(p => GossipPacket.TryRead(p, key, out var r) == GossipReadStatus.Ok && r.Heartbeat.Name == b.Name, Timeout);
        }
        finally
        {
            await b.DisposeAsync();
        }

        await a.WaitForSetAsync(s => s.Count == 0, Timeout, "a forgets b once b stops");
        var quietSets = a.History.Count;

        var altered = (byte[])captured.Clone();
        altered[^3] ^= 0x40;
        var oversized = new byte[2000];
        captured.CopyTo(oversized, 0);
        var stale = Heartbeats.Sealed(key, "ghost@127.0.0.1", DateTimeOffset.UtcNow - TimeSpan.FromMinutes(10), creation: 1, port: 9009);
        var future = Heartbeats.Sealed(key, "ghost@127.0.0.1", DateTimeOffset.UtcNow + TimeSpan.FromMinutes(10), creation: 1, port: 9009);
        var plain = Heartbeats.Plain("ghost@127.0.0.1", creation: 1, port: 9009);
        byte[][] hostile =
        [
            [], // malformed
            RandomNumberGenerator.GetBytes(100), // malformed
            RandomNumberGenerator.GetBytes(1400), // malformed
            captured[..10], // malformed: shorter than any sealed heartbeat
            oversized, // malformed: longer than any heartbeat
            captured[..^1], // bad_seal: the tag no longer matches
            altered, // bad_seal
            captured, // replayed (three times)
            captured,
            captured,
            stale, // stale (ten minutes old)
            future, // stale (ten minutes ahead)
            plain, // wrong_cluster: plain, and this cluster seals its heartbeats
        ];
        foreach (var packet in hostile)
        {
            await probe.SendAsync(packet);
        }

        await a.WaitForDropsAsync(GossipDropReasons.Malformed, 5, Timeout);
        await a.WaitForDropsAsync(GossipDropReasons.BadSeal, 2, Timeout);
        await a.WaitForDropsAsync(GossipDropReasons.Replayed, 3, Timeout);
        await a.WaitForDropsAsync(GossipDropReasons.Stale, 2, Timeout);
        await a.WaitForDropsAsync(GossipDropReasons.WrongCluster, 1, Timeout);
        a.History.Count.Should().Be(quietSets, "no hostile packet changed a's set");

        // The receive loop is alive: a newcomer is still heard.
        await using var c = GossipPeer.Start(space, "c@127.0.0.1", 9003, Options());
        await a.WaitForSetAsync(s => Holds(s, c), Timeout, "a hears c after the hostile packets");
    }
}
