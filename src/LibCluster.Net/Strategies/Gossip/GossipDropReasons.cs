namespace LibCluster.Strategies.Gossip;

/// <summary>The <c>reason</c> tag of <c>libcluster.gossip.packets.dropped</c>: why a received packet was ignored.</summary>
internal static class GossipDropReasons
{
    /// <summary>Not a heartbeat: wrong size, magic, mode, or a bad field (zero creation or port, an invalid node name, trailing bytes).</summary>
    public const string Malformed = "malformed";

    /// <summary>A heartbeat of another format version.</summary>
    public const string UnsupportedVersion = "unsupported_version";

    /// <summary>A heartbeat of another cluster: plain while this node has a secret, sealed while it has none, or sealed with another secret.</summary>
    public const string WrongCluster = "wrong_cluster";

    /// <summary>Sealed with this cluster's key id but failing authentication: forged, or altered on the way.</summary>
    public const string BadSeal = "bad_seal";

    /// <summary>An authentic heartbeat whose nonce was already seen: a replay.</summary>
    public const string Replayed = "replayed";

    /// <summary>An authentic heartbeat whose time stamp is too far from this node's clock: an old replay, or clocks out of sync.</summary>
    public const string Stale = "stale";

    /// <summary>A heartbeat that announces this node's own name with another creation: two nodes share a name.</summary>
    public const string NameConflict = "name_conflict";

    /// <summary>A heartbeat from a new node while the table of known nodes is full.</summary>
    public const string TooManyNodes = "too_many_nodes";
}
