namespace LibCluster.Nodes;

/// <summary>Whether a node came up or went down.</summary>
public enum MembershipChangeKind
{
    /// <summary>An authenticated connection to the node was established.</summary>
    NodeUp,

    /// <summary>The connection to the node is gone; <see cref="MembershipChange.Reason"/> says why.</summary>
    NodeDown,
}

/// <summary>A node came up or went down, as seen by this node (Erlang's <c>nodeup</c>/<c>nodedown</c>).</summary>
/// <param name="Kind">Up or down.</param>
/// <param name="Node">The node.</param>
/// <param name="Creation">The node's incarnation: a restarted node comes back with a new one.</param>
/// <param name="Reason">For <see cref="MembershipChangeKind.NodeDown"/>, one of <see cref="DisconnectReasons"/>; empty for up.</param>
public sealed record MembershipChange(MembershipChangeKind Kind, NodeName Node, uint Creation, string Reason);

/// <summary>Why a connection to a node ended.</summary>
public static class DisconnectReasons
{
    /// <summary>The peer closed the connection, or the network did, without a goodbye.</summary>
    public const string ConnectionClosed = "connection_closed";

    /// <summary>Nothing was received from the peer for a whole tick time.</summary>
    public const string TickTimeout = "tick_timeout";

    /// <summary>The peer (or this node) is shutting down gracefully.</summary>
    public const string Shutdown = "shutdown";

    /// <summary>Code asked to disconnect (on either side).</summary>
    public const string Disconnect = "disconnect";

    /// <summary>The peer came back with a new creation; the old connection belongs to its previous life.</summary>
    public const string Restarted = "restarted";

    /// <summary>A newer authenticated connection with the same peer replaced this one.</summary>
    public const string Replaced = "connection_replaced";

    /// <summary>The peer broke the protocol.</summary>
    public const string ProtocolError = "protocol_error";
}
