using LibCluster.Nodes;

namespace LibCluster.Topology;

/// <summary>The narrow view of the mesh that the topology runtime drives: connect, disconnect, watch.</summary>
internal interface INodeConnector
{
    NodeName Self { get; }

    bool IsConnected(NodeName node);

    /// <summary>Connects, or returns when already connected; throws <see cref="ClusterException"/> on failure.</summary>
    Task ConnectAsync(NodeAddress address, CancellationToken cancellationToken);

    Task DisconnectAsync(NodeName node, CancellationToken cancellationToken);

    /// <summary>Membership changes, starting with a NodeUp for each node connected when the call is made.</summary>
    IAsyncEnumerable<MembershipChange> WatchAsync(CancellationToken cancellationToken);
}
