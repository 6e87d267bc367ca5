using System.Net;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Strategies.Dns;

/// <summary>
/// What the <c>Dns</c> and <c>DnsSrv</c> strategies share: the options and their checks (each strategy gives only its
/// <see cref="DnsLookupKind"/>), the polling (from <see cref="PollingTopologyStrategy"/>: a failed lookup keeps the
/// last set, is logged once per outage and counted), the rule for names that do not exist, and which answers are this
/// node.
/// </summary>
/// <remarks>
/// NXDOMAIN is an answer, not a failure, only until the name has resolved once: before that it means the records do
/// not exist yet (the first node of a new service), so there is nothing to join and the set is empty. After that,
/// NXDOMAIN is treated as a failed lookup and the last set is kept: a name that disappears at once is far more often
/// a DNS hiccup (a restarting DNS pod, a zone being reloaded) than a cluster of none, and emptying the cluster on it
/// is the libcluster flaw this avoids. Nodes that leave an answer that still exists are dropped as usual.
/// </remarks>
internal abstract partial class DnsPollingStrategy : PollingTopologyStrategy
{
    private static readonly IReadOnlySet<NodeAddress> None = new HashSet<NodeAddress>();

    private readonly DnsLookupKind _kind;
    private bool _resolvedOnce;
    private bool _reportedMissing;

    /// <summary>Checks <paramref name="options"/> and makes the settings.</summary>
    /// <exception cref="ArgumentException">The options are not valid; the message lists every problem.</exception>
    protected DnsPollingStrategy(IDnsPollingOptions options, DnsLookupKind kind, IDnsResolver resolver)
    {
        Settings = DnsSettings.Create(options, kind);
        ArgumentNullException.ThrowIfNull(resolver);
        _kind = kind;
        Resolver = resolver;
    }

    protected DnsSettings Settings { get; }

    protected IDnsResolver Resolver { get; }

    protected override TimeSpan PollingInterval => Settings.PollingInterval;

    protected sealed override async ValueTask<IReadOnlySet<NodeAddress>> PollAsync(TopologyContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var nodes = await LookupAsync(context, cancellationToken).ConfigureAwait(false);
        if (nodes is null)
        {
            if (_resolvedOnce)
            {
                throw new ClusterException(
                    $"DNS lookup of {Settings.ToQuery().Describe(_kind.RecordTypes)} answered NXDOMAIN although the name resolved before; treated as a failed lookup.");
            }

            if (!_reportedMissing)
            {
                _reportedMissing = true;
                LogNameNotFound(context.Logger, context.TopologyName, Settings.Query);
            }

            return None;
        }

        _resolvedOnce = true;
        return nodes;
    }

    /// <summary>Looks the name up and maps the answer to nodes, this node left out; null when the name does not exist.</summary>
    /// <exception cref="ClusterException">The lookup failed.</exception>
    protected abstract ValueTask<IReadOnlySet<NodeAddress>?> LookupAsync(TopologyContext context, CancellationToken cancellationToken);

    /// <summary>The basename of the nodes' names: the configured one, else this node's.</summary>
    protected string Basename(TopologyContext context) => Settings.NodeBasename ?? context.Self.Basename;

    /// <summary>
    /// True when <paramref name="candidate"/> is this node: the same name, or the same basename and the same host
    /// written another way (DNS names in another case, an IPv6 address in another form).
    /// </summary>
    protected static bool IsSelf(TopologyContext context, NodeName candidate)
    {
        var self = context.Self;
        if (candidate == self)
        {
            return true;
        }

        if (!string.Equals(candidate.Basename, self.Basename, StringComparison.Ordinal))
        {
            return false;
        }

        if (IPAddress.TryParse(candidate.Host, out var candidateAddress) && IPAddress.TryParse(self.Host, out var selfAddress))
        {
            return candidateAddress.Equals(selfAddress);
        }

        return string.Equals(candidate.Host.TrimEnd('.'), self.Host.TrimEnd('.'), StringComparison.OrdinalIgnoreCase);
    }
}
