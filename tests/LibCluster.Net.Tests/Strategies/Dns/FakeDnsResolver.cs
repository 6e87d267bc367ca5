using System.Net;
using LibCluster.Strategies.Dns;

namespace LibCluster.Tests.Strategies.Dns;

/// <summary>A hand-written <see cref="IDnsResolver"/>: answers what the test last told it, and counts the lookups.</summary>
internal sealed class FakeDnsResolver : IDnsResolver
{
    private readonly Lock _gate = new();
    private readonly List<DnsQuery> _queries = [];
    private Func<DnsAnswer<IPAddress>> _addresses = () => throw new InvalidOperationException("The test gave no A/AAAA answer.");
    private Func<DnsAnswer<DnsServiceRecord>> _services = () => throw new InvalidOperationException("The test gave no SRV answer.");

    /// <summary>How many lookups were made.</summary>
    public int Calls
    {
        get
        {
            lock (_gate)
            {
                return _queries.Count;
            }
        }
    }

    /// <summary>The lookups, in order.</summary>
    public IReadOnlyList<DnsQuery> Queries
    {
        get
        {
            lock (_gate)
            {
                return [.. _queries];
            }
        }
    }

    /// <summary>From now on, A/AAAA lookups answer these addresses.</summary>
    public FakeDnsResolver Addresses(params string[] addresses)
    {
        var answer = new DnsAnswer<IPAddress>(true, addresses.Select(IPAddress.Parse).ToArray());
        lock (_gate)
        {
            _addresses = () => answer;
        }

        return this;
    }

    /// <summary>From now on, SRV lookups answer these records.</summary>
    public FakeDnsResolver Services(params DnsServiceRecord[] records)
    {
        var answer = new DnsAnswer<DnsServiceRecord>(true, records);
        lock (_gate)
        {
            _services = () => answer;
        }

        return this;
    }

    /// <summary>From now on, every lookup answers NXDOMAIN.</summary>
    public FakeDnsResolver NameNotFound()
    {
        lock (_gate)
        {
            _addresses = () => DnsAnswer<IPAddress>.NameNotFound;
            _services = () => DnsAnswer<DnsServiceRecord>.NameNotFound;
        }

        return this;
    }

    /// <summary>From now on, every lookup fails as the real resolver does (timeout, SERVFAIL, ...).</summary>
    public FakeDnsResolver Fail(string problem = "DNS lookup failed: no answer (timeout or network error).")
    {
        lock (_gate)
        {
            _addresses = () => throw new ClusterException(problem);
            _services = () => throw new ClusterException(problem);
        }

        return this;
    }

    public static DnsServiceRecord Srv(string target, int port, params string[] addresses) =>
        new(target, port, 0, 10, addresses.Select(IPAddress.Parse).ToArray());

    public Task<DnsAnswer<IPAddress>> ResolveAddressesAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        Func<DnsAnswer<IPAddress>> answer;
        lock (_gate)
        {
            _queries.Add(query);
            answer = _addresses;
        }

        return Run(answer);
    }

    public Task<DnsAnswer<DnsServiceRecord>> ResolveServiceAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        Func<DnsAnswer<DnsServiceRecord>> answer;
        lock (_gate)
        {
            _queries.Add(query);
            answer = _services;
        }

        return Run(answer);
    }

    // A failure comes back as a faulted task, as from the real resolver.
    private static Task<T> Run<T>(Func<T> answer)
    {
        try
        {
            return Task.FromResult(answer());
        }
        catch (Exception ex)
        {
            return Task.FromException<T>(ex);
        }
    }
}
