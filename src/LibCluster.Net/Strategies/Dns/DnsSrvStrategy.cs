using System.Net;
using System.Net.Sockets;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Strategies.Dns;

/// <summary>
/// The <c>DnsSrv</c> strategy: polls the SRV records of a name and wants <c>{NodeBasename}@{target}</c> for every
/// record, dialled at the record's port, so nodes need not share a port.
/// </summary>
/// <remarks>
/// When the answer's additional section carries the target's address, the node is dialled at that address (the
/// lowest IPv4 address, else the lowest IPv6 one): the answer came from <see cref="DnsStrategyOptions.NameServer"/>,
/// which the system resolver the mesh would otherwise ask may not know. Without one, a configured NameServer is
/// asked for the target's A/AAAA records; only without a NameServer (or an answer from it) is the node dialled by
/// the target name. Priority and weight are ignored: every target is a member. A record whose target is the root
/// ("service not available here") is skipped.
/// </remarks>
internal sealed class DnsSrvStrategy : DnsPollingStrategy
{
    private static readonly DnsLookupKind Lookup = new("DnsSrv", "SRV", "SRV", "_dist._tcp.myapp-headless.default.svc.cluster.local");

    // The problems logged after the previous poll, so that each is logged once, not every poll.
    private HashSet<string> _reported = [];

    public DnsSrvStrategy(DnsSrvStrategyOptions options, IDnsResolver resolver)
        : base(options, Lookup, resolver)
    {
    }

    /// <summary>
    /// Checks the options; each error names its key under <paramref name="configPath"/>
    /// (for example <c>LibCluster:Topologies:srv:Config:Query</c>).
    /// </summary>
    /// <returns>The errors; empty when the options are valid.</returns>
    internal static IReadOnlyList<string> Validate(DnsSrvStrategyOptions options, string configPath) =>
        DnsSettings.Validate(options, configPath, Lookup);

    protected override async ValueTask<IReadOnlySet<NodeAddress>?> LookupAsync(TopologyContext context, CancellationToken cancellationToken)
    {
        var answer = await Resolver.ResolveServiceAsync(Settings.ToQuery(), cancellationToken).ConfigureAwait(false);
        if (!answer.NameExists)
        {
            return null;
        }

        var basename = Basename(context);
        var byName = new Dictionary<NodeName, NodeAddress>();
        var problems = new List<(DnsServiceRecord Record, string Reason)>();

        // Lowest port first, so that when two records name one node the choice does not depend on the answer's order.
        foreach (var record in answer.Records.OrderBy(r => r.Port))
        {
            if (record.Target.Length == 0)
            {
                continue;
            }

            if (record.Port == 0)
            {
                problems.Add((record, "port 0 is not a port a node listens on"));
            }
            else if (!NodeName.TryParse($"{basename}@{record.Target}", out var name, out var error))
            {
                problems.Add((record, error));
            }
            else if (IsSelf(context, name))
            {
                continue;
            }
            else if (byName.TryGetValue(name, out var first))
            {
                problems.Add((record, $"another record already names {name} with port {first.Port}, which is used"));
            }
            else
            {
                var address = PreferredAddress(record.Addresses) ?? await AddressFromNameServerAsync(record.Target, cancellationToken).ConfigureAwait(false);
                byName.Add(name, new NodeAddress(name, address?.ToString() ?? record.Target, record.Port));
            }
        }

        Report(context, problems);
        LogAnswer(context.Logger, context.TopologyName, Settings.Query, answer.Records.Count, byName.Count);
        return byName.Values.ToHashSet();
    }

    private void Report(TopologyContext context, List<(DnsServiceRecord Record, string Reason)> problems)
    {
        var now = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (record, reason) in problems)
        {
            var key = $"{record.Target}:{record.Port}:{reason}";
            now.Add(key);
            if (!_reported.Contains(key))
            {
                LogIgnoredRecord(context.Logger, context.TopologyName, Settings.Query, record.Target, record.Port, reason);
            }
        }

        _reported = now;
    }

    /// <summary>
    /// The target's address from <see cref="DnsStrategyOptions.NameServer"/> when the SRV answer carried none: the
    /// system resolver the mesh would otherwise ask may not know names that only that server knows. Null (dial the
    /// name) without a name server of our own, or when it does not answer.
    /// </summary>
    private async ValueTask<IPAddress?> AddressFromNameServerAsync(string target, CancellationToken cancellationToken)
    {
        if (Settings.NameServer is null)
        {
            return null;
        }

        try
        {
            var answer = await Resolver.ResolveAddressesAsync(new DnsQuery(target, Settings.NameServer, Settings.QueryTimeout), cancellationToken).ConfigureAwait(false);
            return answer.NameExists ? PreferredAddress(answer.Records) : null;
        }
        catch (ClusterException)
        {
            return null;
        }
    }

    private static IPAddress? PreferredAddress(IReadOnlyList<IPAddress> addresses) =>
        addresses
            .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
            .ThenBy(a => a.GetAddressBytes(), ByteOrder.Instance)
            .FirstOrDefault();

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
