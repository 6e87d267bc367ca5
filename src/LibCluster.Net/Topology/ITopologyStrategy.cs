using LibCluster.Nodes;

namespace LibCluster.Topology;

/// <summary>
/// A discovery strategy: tells which nodes a topology wants connected. One instance runs per configured
/// topology, supervised: if it throws, it is logged and started again with backoff.
/// </summary>
public interface ITopologyStrategy
{
    /// <summary>
    /// Yields the whole set of nodes this topology wants connected, each time it changes. Not yielding keeps the
    /// last set: a failed lookup must never empty the cluster. The set may include this node; it is ignored.
    /// The enumeration should run until <paramref name="cancellationToken"/> is cancelled; one that throws or ends
    /// earlier is logged and started again after a backoff, its last set staying in force meanwhile. Resources the
    /// strategy needs (sockets, registrations) belong inside the enumeration and are released when it ends.
    /// </summary>
    IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(TopologyContext context, CancellationToken cancellationToken);
}
