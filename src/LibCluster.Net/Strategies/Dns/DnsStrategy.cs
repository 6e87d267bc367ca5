using System.Net;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Strategies.Dns;

/// <summary>
/// The <c>Dns</c> strategy: polls the A and AAAA records of a name (a Kubernetes headless service, a Cloud Foundry
/// internal route) and wants <c>{NodeBasename}@{ip}</c> for every address, dialled at the cluster's port.
/// </summary>
internal sealed class DnsStrategy : DnsPollingStrategy
{
    private static readonly DnsLookupKind Lookup = new("Dns", "A and AAAA", "A/AAAA", "myapp-headless.default.svc.cluster.local");

    private bool _checkedSelf;

    public DnsStrategy(DnsStrategyOptions options, IDnsResolver resolver)
        : base(options, Lookup, resolver)
    {
    }

    /// <summary>
    /// Checks the options; each error names its key under <paramref name="configPath"/>
    /// (for example <c>LibCluster:Topologies:k8s:Config:Query</c>).
    /// </summary>
    /// <returns>The errors; empty when the options are valid.</returns>
    internal static IReadOnlyList<string> Validate(DnsStrategyOptions options, string configPath) =>
        DnsSettings.Validate(options, configPath, Lookup);

    protected override async ValueTask<IReadOnlySet<NodeAddress>?> LookupAsync(TopologyContext context, CancellationToken cancellationToken)
    {
        var answer = await Resolver.ResolveAddressesAsync(Settings.ToQuery(), cancellationToken).ConfigureAwait(false);
        if (!answer.NameExists)
        {
            return null;
        }

        var basename = Basename(context);
        if (!_checkedSelf)
        {
            _checkedSelf = true;
            if (string.Equals(basename, context.Self.Basename, StringComparison.Ordinal) && !IPAddress.TryParse(context.Self.Host, out _))
            {
                LogSelfNotNamedByAddress(context.Logger, context.TopologyName, context.Self.Value, basename);
            }
        }

        var nodes = new HashSet<NodeAddress>();
        foreach (var address in answer.Records)
        {
            // IPAddress.ToString gives one canonical form, so a node's name does not change with how DNS spells it.
            var host = address.ToString();
            if (NodeName.TryParse($"{basename}@{host}", out var name) && !IsSelf(context, name))
            {
                nodes.Add(new NodeAddress(name, host, context.DefaultPort));
            }
        }

        LogAnswer(context.Logger, context.TopologyName, Settings.Query, answer.Records.Count, nodes.Count);
        return nodes;
    }
}
