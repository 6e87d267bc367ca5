using Microsoft.Extensions.Logging;

namespace LibCluster.Strategies.Dns;

// Event ids 2201-2299 belong to the Dns and DnsSrv strategies. Failed lookups are logged by PollingTopologyStrategy
// (2051-2053), once per outage.
internal abstract partial class DnsPollingStrategy
{
    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Topology {Topology}: {Query} does not exist (NXDOMAIN); no nodes to join until it does")]
    protected static partial void LogNameNotFound(ILogger logger, string topology, string query);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "Topology {Topology}: {Query} answered {RecordCount} records for {NodeCount} other nodes")]
    protected static partial void LogAnswer(ILogger logger, string topology, string query, int recordCount, int nodeCount);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "Topology {Topology}: ignoring the SRV record of {Query} for {Target}:{Port}: {Reason}")]
    protected static partial void LogIgnoredRecord(ILogger logger, string topology, string query, string target, int port, string reason);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Warning, Message = "Topology {Topology}: this node is named {NodeName}, but the Dns strategy names nodes by IP address ({Basename}@10.1.2.3): the other nodes will dial it under a name it does not have and fail the handshake. Name it by its IP address in LibCluster:Node:Name")]
    protected static partial void LogSelfNotNamedByAddress(ILogger logger, string topology, string nodeName, string basename);
}
