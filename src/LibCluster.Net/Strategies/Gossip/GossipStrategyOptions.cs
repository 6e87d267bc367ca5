namespace LibCluster.Strategies.Gossip;

/// <summary>
/// Options of the <c>Gossip</c> strategy: every node announces itself with a UDP heartbeat (multicast, or broadcast)
/// and connects to the nodes it hears; a node not heard from for <see cref="ExpireAfter"/> is forgotten.
/// </summary>
public sealed class GossipStrategyOptions
{
    /// <summary>The shortest <see cref="Secret"/> accepted.</summary>
    public const int MinSecretLength = 32;

    /// <summary>
    /// The multicast group the heartbeats are sent to and received on: an IPv4 address in 224.0.0.0/4 or an IPv6
    /// address in ff00::/8 (link-local groups such as <c>ff02::…</c> or <c>ff12::…</c> need <see cref="MulticastInterface"/>).
    /// Ignored when <see cref="BroadcastOnly"/> is set.
    /// </summary>
    public string MulticastAddress { get; set; } = "233.252.1.32";

    /// <summary>The UDP port of the heartbeats; every node of the cluster uses the same one. Several nodes on one host share it.</summary>
    public int Port { get; set; } = 45892;

    /// <summary>
    /// The IP address of the interface to send on and to join the group with (for IPv6, the interface whose index is
    /// used; a scope such as <c>fe80::1%2</c> gives the index directly). Empty: the operating system chooses by its
    /// routes. With <see cref="BroadcastOnly"/>, the heartbeats go to this interface's subnet broadcast address.
    /// </summary>
    public string? MulticastInterface { get; set; }

    /// <summary>The multicast TTL (IPv6: hop limit): 1 keeps heartbeats on the local network segment.</summary>
    public int Ttl { get; set; } = 1;

    /// <summary>
    /// Sends heartbeats to the IPv4 broadcast address (255.255.255.255, or the subnet broadcast address of
    /// <see cref="MulticastInterface"/>) instead of a multicast group, for networks that drop multicast.
    /// </summary>
    public bool BroadcastOnly { get; set; }

    /// <summary>How often a heartbeat is sent, each interval varied by up to ±20 % so that nodes do not send in step.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A node not heard from for this long is forgotten (leaves this topology's set). Default: 3 × <see cref="HeartbeatInterval"/>.</summary>
    public TimeSpan? ExpireAfter { get; set; }

    /// <summary>
    /// When set (at least <see cref="MinSecretLength"/> characters, the same on every node), heartbeats are sealed
    /// with AES-256-GCM under a key derived from it, time-stamped and replay-protected; unsealed, forged, altered,
    /// replayed and stale heartbeats are dropped. Never logged and never sent. Without it, heartbeats are plain and
    /// anyone who can reach the group can announce nodes (the mesh's cookie still keeps them out of the cluster).
    /// </summary>
    public string? Secret { get; set; }

    /// <summary><see cref="ExpireAfter"/>, or its default of three heartbeat intervals.</summary>
    internal TimeSpan EffectiveExpireAfter => ExpireAfter ?? HeartbeatInterval * 3;

    /// <summary>How far a sealed heartbeat's time stamp may be from this node's clock: 2 × <see cref="HeartbeatInterval"/> + 30 s either way.</summary>
    internal TimeSpan ReplayWindow => HeartbeatInterval * 2 + TimeSpan.FromSeconds(30);
}
