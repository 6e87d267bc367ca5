using System.Net;

namespace LibCluster.Strategies.Dns;

/// <summary>
/// The DNS lookups the <c>Dns</c> and <c>DnsSrv</c> strategies make: the seam that unit tests replace with a fake
/// (registered with <c>TryAddSingleton</c>, so a test's own registration wins).
/// </summary>
/// <remarks>
/// An answer is either the records or the news that the name does not exist (NXDOMAIN). Everything else — a timeout,
/// SERVFAIL, REFUSED, a network error — throws, so that the polling strategy keeps its last set.
/// </remarks>
internal interface IDnsResolver
{
    /// <summary>Asks for the A and AAAA records of the query's name, both at once.</summary>
    /// <exception cref="ClusterException">The lookup failed: no answer, or an error answer other than NXDOMAIN.</exception>
    Task<DnsAnswer<IPAddress>> ResolveAddressesAsync(DnsQuery query, CancellationToken cancellationToken);

    /// <summary>Asks for the SRV records of the query's name, with the addresses the additional section gives their targets.</summary>
    /// <exception cref="ClusterException">The lookup failed: no answer, or an error answer other than NXDOMAIN.</exception>
    Task<DnsAnswer<DnsServiceRecord>> ResolveServiceAsync(DnsQuery query, CancellationToken cancellationToken);
}

/// <summary>What to look up and where.</summary>
/// <param name="Name">The fully qualified name (search domains are not applied).</param>
/// <param name="NameServer">The server to ask; null for the system's name servers.</param>
/// <param name="Timeout">How long one attempt waits for an answer.</param>
internal readonly record struct DnsQuery(string Name, IPEndPoint? NameServer, TimeSpan Timeout)
{
    /// <summary>The name and the server, for messages: <c>A/AAAA myapp.example at 10.0.0.10:53</c>.</summary>
    public string Describe(string type) => $"{type} {Name} at {(NameServer is null ? "the system's name servers" : NameServer.ToString())}";
}

/// <summary>A good answer: the name's records, or that the name does not exist.</summary>
/// <param name="NameExists">False for NXDOMAIN: the name does not exist (its records are then empty).</param>
/// <param name="Records">The records of the asked type; empty when the name exists without any (NODATA).</param>
internal sealed record DnsAnswer<T>(bool NameExists, IReadOnlyList<T> Records)
{
    /// <summary>The NXDOMAIN answer.</summary>
    public static DnsAnswer<T> NameNotFound { get; } = new(false, []);
}

/// <summary>One SRV record.</summary>
/// <param name="Target">The target host name without its trailing dot; empty (the root) when the service is declared absent.</param>
/// <param name="Port">The port on the target.</param>
/// <param name="Priority">The record's priority (lower first); the strategies use every target regardless.</param>
/// <param name="Weight">The record's weight.</param>
/// <param name="Addresses">The target's A and AAAA addresses found in the answer's additional section; may be empty.</param>
internal sealed record DnsServiceRecord(string Target, int Port, int Priority, int Weight, IReadOnlyList<IPAddress> Addresses);
