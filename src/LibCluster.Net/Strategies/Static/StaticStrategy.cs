using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using LibCluster.Nodes;
using LibCluster.Topology;
using Microsoft.Extensions.Logging;

[assembly: SuppressMessage(
    "Naming",
    "CA1716:Identifiers should not match keywords",
    Scope = "namespace",
    Target = "~N:LibCluster.Strategies.Static",
    Justification = "The namespace follows its folder and the strategy's configured name, like the other strategies.")]

namespace LibCluster.Strategies.Static;

/// <summary>
/// The <c>Static</c> strategy: yields its fixed list once and then waits; the topology runtime keeps dialling the
/// nodes (with backoff) for as long as the host runs, so nodes that start later are still found.
/// </summary>
internal sealed partial class StaticStrategy : ITopologyStrategy
{
    private readonly StaticStrategyOptions _options;

    public StaticStrategy(StaticStrategyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <summary>
    /// Checks every entry of <see cref="StaticStrategyOptions.Nodes"/>; each error names its key under
    /// <paramref name="configPath"/> (for example <c>LibCluster:Topologies:fixed:Config:Nodes:1</c>).
    /// </summary>
    /// <returns>The errors; empty when the options are valid.</returns>
    internal static IReadOnlyList<string> Validate(StaticStrategyOptions options, string configPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configPath);
        var errors = new List<string>();
        if (options.Nodes.Count == 0)
        {
            errors.Add($"{configPath}:Nodes must list at least one node ('basename@host' or 'basename@host:port'); to switch the topology off, set Enabled to false.");
        }

        var seen = new Dictionary<NodeName, int>();
        for (var i = 0; i < options.Nodes.Count; i++)
        {
            var entry = options.Nodes[i];

            // Only the syntax is checked here; any valid default port will do.
            if (!NodeAddress.TryParse(entry, 1, out var address, out var error))
            {
                errors.Add($"{configPath}:Nodes:{i} '{entry}' is not a node address: {error}");
            }
            else if (seen.TryGetValue(address.Name, out var first))
            {
                errors.Add($"{configPath}:Nodes:{i} '{entry}' names {address.Name} again (already at {configPath}:Nodes:{first}).");
            }
            else
            {
                seen.Add(address.Name, i);
            }
        }

        return errors;
    }

    public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(
        TopologyContext context,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var nodes = new HashSet<NodeAddress>();
        for (var i = 0; i < _options.Nodes.Count; i++)
        {
            var entry = _options.Nodes[i];
            if (NodeAddress.TryParse(entry, context.DefaultPort, out var address, out var error))
            {
                nodes.Add(address);
            }
            else
            {
                // Validation at host start rejects these; options built in code may skip it. Dial the good ones.
                LogIgnoredEntry(context.Logger, context.TopologyName, i, entry, error ?? "invalid");
            }
        }

        LogNodes(context.Logger, context.TopologyName, nodes.Count);
        yield return nodes;

        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, context.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // Event ids 2101-2199 belong to the Static strategy.
    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Topology {Topology} ignores Nodes:{Index} '{Entry}': {Reason}")]
    private static partial void LogIgnoredEntry(ILogger logger, string topology, int index, string? entry, string reason);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Debug, Message = "Topology {Topology} lists {NodeCount} static nodes")]
    private static partial void LogNodes(ILogger logger, string topology, int nodeCount);
}
