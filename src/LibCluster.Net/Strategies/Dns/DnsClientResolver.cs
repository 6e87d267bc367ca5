using System.Collections.Concurrent;
using System.Net;
using DnsClient;
using DnsClient.Protocol;

namespace LibCluster.Strategies.Dns;

/// <summary>
/// <see cref="IDnsResolver"/> over DnsClient: one <see cref="LookupClient"/> per name server and timeout, no cache
/// (every poll must see the records as they are now), a short timeout and one retry, TCP when an answer is truncated.
/// </summary>
internal sealed class DnsClientResolver : IDnsResolver
{
    private readonly ConcurrentDictionary<(IPEndPoint? NameServer, TimeSpan Timeout), LookupClient> _clients = new();

    public async Task<DnsAnswer<IPAddress>> ResolveAddressesAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        var client = ClientFor(query);
        var a = QueryAsync(client, query, QueryType.A, cancellationToken);
        var aaaa = QueryAsync(client, query, QueryType.AAAA, cancellationToken);

        // Both answers must be good: half an answer would drop the nodes of the other family.
        var responses = await Task.WhenAll(a, aaaa).ConfigureAwait(false);
        if (responses.All(r => r is null))
        {
            return DnsAnswer<IPAddress>.NameNotFound;
        }

        var addresses = new List<IPAddress>();
        foreach (var response in responses)
        {
            if (response is not null)
            {
                addresses.AddRange(response.Answers.ARecords().Select(r => r.Address));
                addresses.AddRange(response.Answers.AaaaRecords().Select(r => r.Address));
            }
        }

        return new DnsAnswer<IPAddress>(true, addresses);
    }

    public async Task<DnsAnswer<DnsServiceRecord>> ResolveServiceAsync(DnsQuery query, CancellationToken cancellationToken)
    {
        var response = await QueryAsync(ClientFor(query), query, QueryType.SRV, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            return DnsAnswer<DnsServiceRecord>.NameNotFound;
        }

        var additional = new Dictionary<string, List<IPAddress>>(StringComparer.OrdinalIgnoreCase);
        foreach (var record in response.Additionals.OfType<AddressRecord>())
        {
            var owner = HostName(record.DomainName);
            if (!additional.TryGetValue(owner, out var list))
            {
                additional[owner] = list = [];
            }

            list.Add(record.Address);
        }

        var records = new List<DnsServiceRecord>();
        foreach (var srv in response.Answers.SrvRecords())
        {
            var target = HostName(srv.Target);
            records.Add(new DnsServiceRecord(
                target,
                srv.Port,
                srv.Priority,
                srv.Weight,
                additional.TryGetValue(target, out var addresses) ? addresses : []));
        }

        return new DnsAnswer<DnsServiceRecord>(true, records);
    }

    private static string HostName(DnsString name) => name.Value.TrimEnd('.');

    /// <summary>Sends one query; returns null for NXDOMAIN and throws <see cref="ClusterException"/> for every other failure.</summary>
    private static async Task<IDnsQueryResponse?> QueryAsync(LookupClient client, DnsQuery query, QueryType type, CancellationToken cancellationToken)
    {
        IDnsQueryResponse response;
        try
        {
            response = await client.QueryAsync(query.Name, type, QueryClass.IN, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (DnsResponseException ex)
        {
            var what = ex.Code == DnsResponseCode.ConnectionTimeout ? "no answer (timeout or network error)" : ex.DnsError;
            throw new ClusterException($"DNS lookup of {query.Describe(type.ToString())} failed: {what}.", ex);
        }
        catch (Exception ex) when (ex is System.Net.Sockets.SocketException or IOException or OperationCanceledException or TimeoutException)
        {
            throw new ClusterException($"DNS lookup of {query.Describe(type.ToString())} failed: {ex.Message}", ex);
        }

        return response.Header.ResponseCode switch
        {
            DnsHeaderResponseCode.NoError => response,
            DnsHeaderResponseCode.NotExistentDomain => null,
            var code => throw new ClusterException(
                $"DNS lookup of {query.Describe(type.ToString())} failed: the server answered {Describe(code)}."),
        };
    }

    private static string Describe(DnsHeaderResponseCode code) => code switch
    {
        DnsHeaderResponseCode.ServerFailure => "SERVFAIL (server failure)",
        DnsHeaderResponseCode.Refused => "REFUSED (the server does not answer for this name)",
        DnsHeaderResponseCode.FormatError => "FORMERR (format error)",
        DnsHeaderResponseCode.NotImplemented => "NOTIMP (not implemented)",
        _ => code.ToString(),
    };

    private LookupClient ClientFor(DnsQuery query) =>
        _clients.GetOrAdd((query.NameServer, query.Timeout), static key =>
        {
            var options = key.NameServer is null ? new LookupClientOptions() : new LookupClientOptions(key.NameServer);
            options.UseCache = false;
            options.Timeout = key.Timeout;
            options.Retries = DnsConstants.QueryRetries;
            options.ThrowDnsErrors = false;
            options.UseTcpFallback = true;
            return new LookupClient(options);
        });
}
