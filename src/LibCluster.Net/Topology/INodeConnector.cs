using LibCluster.Nodes;

namespace LibCluster.Topology;

/// <summary>The narrow view of the mesh that the topology runtime drives: connect, disconnect, watch.</summary>
internal interface INodeConnector
{
    NodeName Self { get; }

    bool IsConnected(NodeName node);

    /// <summary>
    /// Connects, or returns when already connected; throws <see cref="ClusterException"/> on failure. A dial must end
    /// on its own within a bounded time (connect and handshake timeouts): the runtime cancels it only when stopping.
    /// </summary>
    Task ConnectAsync(NodeAddress address, CancellationToken cancellationToken);

    Task DisconnectAsync(NodeName node, CancellationToken cancellationToken);

    /// <summary>
    /// Membership changes, starting with a NodeUp for each node connected when the call is made. The subscription is
    /// in place once the first <c>MoveNextAsync</c> has been called (before it completes), so a caller can check the
    /// state after that call without missing a change.
    /// </summary>
    IAsyncEnumerable<MembershipChange> WatchAsync(CancellationToken cancellationToken);
}
