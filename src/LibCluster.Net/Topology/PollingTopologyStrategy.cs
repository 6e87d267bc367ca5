using System.Diagnostics;
using System.Runtime.CompilerServices;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Topology;

/// <summary>
/// The base of strategies that ask a source (DNS, a registry, an API) every interval: it polls, compares, and
/// yields only when the set changed. A failed poll keeps the last set (it never empties the cluster), is logged as a
/// warning once per outage rather than once per poll, and is counted in <c>libcluster.discovery.errors</c>.
/// </summary>
public abstract partial class PollingTopologyStrategy : ITopologyStrategy
{
    /// <summary>How long to wait between the end of one poll and the start of the next.</summary>
    protected abstract TimeSpan PollingInterval { get; }

    /// <summary>
    /// Asks the source for the nodes the topology wants now. Throw to report a failed poll (the last set is kept);
    /// return an empty set only when the source really says there are none.
    /// </summary>
    protected abstract ValueTask<IReadOnlySet<NodeAddress>> PollAsync(TopologyContext context, CancellationToken cancellationToken);

    /// <inheritdoc/>
    public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(TopologyContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        IReadOnlySet<NodeAddress>? last = null;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var (current, error) = await TryPollAsync(context, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                failures++;
                if (failures == 1)
                {
                    LogPollFailed(context.Logger, context.TopologyName, error.Message, error);
                }
                else
                {
                    LogPollStillFailing(context.Logger, context.TopologyName, failures, error.Message);
                }
            }
            else
            {
                if (failures > 0)
                {
                    LogPollRecovered(context.Logger, context.TopologyName, failures);
                    failures = 0;
                }

                if (last is null || !current!.SetEquals(last))
                {
                    last = current!;
                    yield return last;
                }
            }

            try
            {
                await Task.Delay(PollingInterval, context.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    private async Task<(IReadOnlySet<NodeAddress>? Nodes, Exception? Error)> TryPollAsync(TopologyContext context, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            var nodes = await PollAsync(context, cancellationToken).ConfigureAwait(false);
            context.Metrics?.DiscoveryPoll(context.TopologyName, Stopwatch.GetElapsedTime(started), failed: false);
            return (nodes, null);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            context.Metrics?.DiscoveryPoll(context.TopologyName, Stopwatch.GetElapsedTime(started), failed: true);
            return (null, ex);
        }
    }

    [LoggerMessage(EventId = 2051, Level = LogLevel.Warning, Message = "Topology {Topology}: discovery failed, keeping the last known nodes: {Problem}")]
    private static partial void LogPollFailed(ILogger logger, string topology, string problem, Exception exception);

    [LoggerMessage(EventId = 2052, Level = LogLevel.Debug, Message = "Topology {Topology}: discovery still failing ({FailureCount} polls in a row): {Problem}")]
    private static partial void LogPollStillFailing(ILogger logger, string topology, int failureCount, string problem);

    [LoggerMessage(EventId = 2053, Level = LogLevel.Information, Message = "Topology {Topology}: discovery works again after {FailureCount} failed polls")]
    private static partial void LogPollRecovered(ILogger logger, string topology, int failureCount);
}
