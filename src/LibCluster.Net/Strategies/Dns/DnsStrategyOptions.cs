namespace LibCluster.Strategies.Dns;

/// <summary>
/// Options of the <c>Dns</c> strategy: every <see cref="PollingInterval"/> it asks for the A and AAAA records of
/// <see cref="Query"/> and wants one node <c>{NodeBasename}@{ip}</c> per address, dialled at <c>LibCluster:Node:Port</c>
/// (the Kubernetes headless-service pattern).
/// </summary>
public sealed class DnsStrategyOptions : IDnsPollingOptions
{
    /// <summary>
    /// The fully qualified DNS name whose A and AAAA records list the nodes, for example
    /// <c>myapp-headless.default.svc.cluster.local</c>. Required. Search domains are not applied.
    /// </summary>
    public string? Query { get; set; }

    /// <summary>
    /// The basename of the nodes' names (<c>app</c> makes <c>app@10.0.0.7</c>). When empty, this node's own basename is
    /// used: the nodes of one application normally share it.
    /// </summary>
    public string? NodeBasename { get; set; }

    /// <summary>
    /// How long to wait between two lookups; 5 seconds by default, at most an hour. Written <c>00:00:05</c> in
    /// configuration: a bare number means days.
    /// </summary>
    public TimeSpan PollingInterval { get; set; } = DnsConstants.DefaultPollingInterval;

    /// <summary>
    /// The DNS server to ask, <c>ip</c> or <c>ip:port</c> (IPv6 in brackets: <c>[fd00::10]:53</c>; the port defaults to
    /// 53). When empty, the system's name servers are used.
    /// </summary>
    public string? NameServer { get; set; }
}
