namespace LibCluster.Strategies.Static;

/// <summary>Options of the <c>Static</c> strategy: a fixed list of nodes, dialled and retried for as long as the host runs.</summary>
public sealed class StaticStrategyOptions
{
    /// <summary>
    /// The nodes to connect, each <c>basename@host</c> or <c>basename@host:port</c> (IPv6 hosts in brackets,
    /// <c>app1@[fd00::2]:9002</c>). Without a port, <c>LibCluster:Node:Port</c> is used. The list may include this
    /// node; it is ignored.
    /// </summary>
    public IList<string> Nodes { get; } = new List<string>();
}
