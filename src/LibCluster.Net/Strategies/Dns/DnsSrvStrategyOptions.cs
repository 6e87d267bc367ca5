namespace LibCluster.Strategies.Dns;

/// <summary>
/// Options of the <c>DnsSrv</c> strategy: every <see cref="PollingInterval"/> it asks for the SRV records of
/// <see cref="Query"/> and wants one node <c>{NodeBasename}@{target}</c> per record, dialled at the record's port
/// (so the nodes need not share a port).
/// </summary>
public sealed class DnsSrvStrategyOptions : IDnsPollingOptions
{
    /// <summary>
    /// The fully qualified DNS name whose SRV records list the nodes, for example
    /// <c>_dist._tcp.myapp-headless.default.svc.cluster.local</c>. Required. Search domains are not applied.
    /// </summary>
    public string? Query { get; set; }

    /// <summary>
    /// The basename of the nodes' names (<c>app</c> and the target <c>pod-0.myapp.example.</c> make
    /// <c>app@pod-0.myapp.example</c>). When empty, this node's own basename is used: the nodes of one application
    /// normally share it.
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
