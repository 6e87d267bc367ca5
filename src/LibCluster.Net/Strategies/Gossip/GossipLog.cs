using System.Net;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Strategies.Gossip;

// Event ids 2301-2399 belong to the Gossip strategy. The secret is never logged.
internal static partial class GossipLog
{
    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Topology {Topology} gossips on {Channel} every {HeartbeatInterval} and forgets nodes not heard from for {ExpireAfter}; heartbeats are {Security}")]
    public static partial void Started(ILogger logger, string topology, string channel, TimeSpan heartbeatInterval, TimeSpan expireAfter, string security);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Debug, Message = "Topology {Topology} stopped gossiping on {Channel}")]
    public static partial void Stopped(ILogger logger, string topology, string channel);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Information, Message = "Topology {Topology} heard {NodeName} (port {Port}) from {RemoteEndPoint}")]
    public static partial void NodeHeard(ILogger logger, string topology, NodeName nodeName, int port, EndPoint? remoteEndPoint);

    [LoggerMessage(EventId = 2304, Level = LogLevel.Information, Message = "Topology {Topology} forgets {NodeName}: not heard from for {ExpireAfter}")]
    public static partial void NodeExpired(ILogger logger, string topology, NodeName nodeName, TimeSpan expireAfter);

    [LoggerMessage(EventId = 2305, Level = LogLevel.Information, Message = "Topology {Topology} heard {NodeName} with creation {Creation} instead of {PreviousCreation}: it restarted")]
    public static partial void NodeRestarted(ILogger logger, string topology, NodeName nodeName, uint creation, uint previousCreation);

    [LoggerMessage(EventId = 2306, Level = LogLevel.Debug, Message = "Topology {Topology} heard {NodeName} with creation {Creation} instead of {PreviousCreation} ({SuppressedCount} such changes since the last one logged as information; two nodes sharing a name look like this)")]
    public static partial void NodeRestartedAgain(ILogger logger, string topology, NodeName nodeName, uint creation, uint previousCreation, long suppressedCount);

    [LoggerMessage(EventId = 2307, Level = LogLevel.Information, Message = "Topology {Topology} heard {NodeName} announce port {Port} instead of {PreviousPort}")]
    public static partial void NodeMoved(ILogger logger, string topology, NodeName nodeName, int port, int previousPort);

    [LoggerMessage(EventId = 2308, Level = LogLevel.Warning, Message = "Topology {Topology} dropped a gossip packet from {RemoteEndPoint}: {Reason} ({Detail}); {SuppressedCount} more dropped for this reason since the last warning")]
    public static partial void PacketDropped(ILogger logger, string topology, EndPoint? remoteEndPoint, string reason, string detail, long suppressedCount);

    [LoggerMessage(EventId = 2309, Level = LogLevel.Debug, Message = "Topology {Topology} dropped a gossip packet from {RemoteEndPoint}: {Reason} ({Detail})")]
    public static partial void PacketDroppedAgain(ILogger logger, string topology, EndPoint? remoteEndPoint, string reason, string detail);

    [LoggerMessage(EventId = 2310, Level = LogLevel.Warning, Message = "Topology {Topology} could not send its heartbeat on {Channel}: {Problem}; {SuppressedCount} more failures since the last warning")]
    public static partial void SendFailed(ILogger logger, string topology, string channel, string problem, long suppressedCount);

    [LoggerMessage(EventId = 2311, Level = LogLevel.Debug, Message = "Topology {Topology} could not send its heartbeat on {Channel}: {Problem}")]
    public static partial void SendFailedAgain(ILogger logger, string topology, string channel, string problem);

    [LoggerMessage(EventId = 2312, Level = LogLevel.Debug, Message = "Topology {Topology} ignored a receive error on {Channel}: {Problem}")]
    public static partial void ReceiveErrorIgnored(ILogger logger, string topology, string channel, string problem);

    [LoggerMessage(EventId = 2314, Level = LogLevel.Debug, Message = "Topology {Topology} heard {NodeName} (port {Port}) from {RemoteEndPoint} ({SuppressedCount} new nodes since the last one logged as information)")]
    public static partial void NodeHeardQuietly(ILogger logger, string topology, NodeName nodeName, int port, EndPoint? remoteEndPoint, long suppressedCount);

    [LoggerMessage(EventId = 2315, Level = LogLevel.Debug, Message = "Topology {Topology} heard {NodeName} announce port {Port} instead of {PreviousPort} ({SuppressedCount} such changes since the last one logged as information)")]
    public static partial void NodeMovedAgain(ILogger logger, string topology, NodeName nodeName, int port, int previousPort, long suppressedCount);

    [LoggerMessage(EventId = 2313, Level = LogLevel.Error, Message = "Topology {Topology} failed to handle a gossip packet from {RemoteEndPoint}; the packet is dropped and gossip goes on")]
    public static partial void PacketFailed(ILogger logger, string topology, EndPoint? remoteEndPoint, Exception exception);
}
