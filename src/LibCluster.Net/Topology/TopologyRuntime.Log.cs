using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Topology;

// Event ids 2001-2099 belong to the topology runtime.
internal sealed partial class TopologyRuntime
{
    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Topology {Topology} wants {NodeCount} nodes ({AddedCount} added, {RemovedCount} removed)")]
    private static partial void LogTopologyChanged(ILogger logger, string topology, int nodeCount, int addedCount, int removedCount);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "Topology {Topology} wants {NodeName} at {Host}:{Port}")]
    private static partial void LogNodeWanted(ILogger logger, string topology, NodeName nodeName, string host, int port);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Debug, Message = "Topology {Topology} no longer wants {NodeName}")]
    private static partial void LogNodeNoLongerWanted(ILogger logger, string topology, NodeName nodeName);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "Topology {Topology} failed; its strategy restarts in {RetryDelay} and its last node set is kept meanwhile")]
    private static partial void LogStrategyFailed(ILogger logger, string topology, TimeSpan retryDelay, Exception? exception);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Warning, Message = "Watching node membership failed; watching again in {RetryDelay}")]
    private static partial void LogMembershipWatchFailed(ILogger logger, TimeSpan retryDelay, Exception? exception);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Debug, Message = "Dialling {NodeName} at {Host}:{Port} (attempt {Attempt})")]
    private static partial void LogDialling(ILogger logger, NodeName nodeName, string host, int port, int attempt);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning, Message = "Could not connect to {NodeName} at {Host}:{Port} ({FailureCount} failures in a row); retrying in {RetryDelay}: {Reason}")]
    private static partial void LogDialFailed(ILogger logger, NodeName nodeName, string host, int port, int failureCount, TimeSpan retryDelay, string reason, Exception? exception);

    [LoggerMessage(EventId = 2008, Level = LogLevel.Debug, Message = "Could not connect to {NodeName} at {Host}:{Port} ({FailureCount} failures in a row); retrying in {RetryDelay}: {Reason}")]
    private static partial void LogDialFailedAgain(ILogger logger, NodeName nodeName, string host, int port, int failureCount, TimeSpan retryDelay, string reason);

    [LoggerMessage(EventId = 2009, Level = LogLevel.Information, Message = "Connected to {NodeName} at {Host}:{Port} after {FailureCount} failed attempts")]
    private static partial void LogConnectedAfterFailures(ILogger logger, NodeName nodeName, string host, int port, int failureCount);

    [LoggerMessage(EventId = 2010, Level = LogLevel.Information, Message = "Disconnecting {NodeName}: no topology wants it any more")]
    private static partial void LogDisconnecting(ILogger logger, NodeName nodeName);

    [LoggerMessage(EventId = 2011, Level = LogLevel.Warning, Message = "Could not disconnect {NodeName}")]
    private static partial void LogDisconnectFailed(ILogger logger, NodeName nodeName, Exception exception);

    [LoggerMessage(EventId = 2012, Level = LogLevel.Debug, Message = "{NodeName} went down ({Reason}); redialling it because a topology still wants it")]
    private static partial void LogRedialling(ILogger logger, NodeName nodeName, string reason);

    [LoggerMessage(EventId = 2013, Level = LogLevel.Error, Message = "The dialler of {NodeName} stopped unexpectedly; the node is dialled again when its topology or membership changes")]
    private static partial void LogDiallerFailed(ILogger logger, NodeName nodeName, Exception exception);

    [LoggerMessage(EventId = 2014, Level = LogLevel.Debug, Message = "Stopped dialling {NodeName} at {Host}:{Port}: {Reason}")]
    private static partial void LogDialStopped(ILogger logger, NodeName nodeName, string host, int port, string reason, Exception? exception);
}
