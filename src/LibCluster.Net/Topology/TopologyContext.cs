using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Topology;

/// <summary>What a strategy knows about the node it runs on.</summary>
public sealed class TopologyContext
{
    /// <summary>The topology's name (the key under <c>LibCluster:Topologies</c>).</summary>
    public required string TopologyName { get; init; }

    /// <summary>This node's name.</summary>
    public required NodeName Self { get; init; }

    /// <summary>The port nodes of this cluster listen on unless a strategy learns another (<c>LibCluster:Node:Port</c>).</summary>
    public required int DefaultPort { get; init; }

    /// <summary>
    /// This node's creation: a number that differs each time the node starts (0 where the host did not give one).
    /// A strategy that announces the node (a registry, a gossip) can carry it, so that peers tell a restarted node
    /// from its previous life.
    /// </summary>
    public uint Creation { get; init; }

    /// <summary>The clock to use for polling intervals and timeouts.</summary>
    public required TimeProvider TimeProvider { get; init; }

    /// <summary>A logger for the strategy, categorised by its topology.</summary>
    public required ILogger Logger { get; init; }

    /// <summary>The cluster's instruments, where the runtime provides them (polling strategies record their polls).</summary>
    internal Diagnostics.ClusterMetrics? Metrics { get; init; }
}
