using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Eureka;

// Event ids 5001-5099 belong to the Eureka strategy. Messages never hold the client secret, tokens or URL passwords.
internal static partial class EurekaLog
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Topology {Topology}: registering node {NodeName} (dist port {DistPort}) in Eureka at {ServiceUrl} (from {Source}) as {AppName}/{InstanceId}")]
    public static partial void Starting(ILogger logger, string topology, NodeName nodeName, int distPort, Uri serviceUrl, string source, string appName, string instanceId);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Information, Message = "Topology {Topology}: registered {InstanceId} in Eureka application {AppName} ({Reason})")]
    public static partial void Registered(ILogger logger, string topology, string instanceId, string appName, string reason);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Warning, Message = "Topology {Topology}: could not {Operation} this node in Eureka ({Reason}); trying again every {RetryInterval}, the known nodes stay connected: {Problem}")]
    public static partial void RegistrationFailed(ILogger logger, string topology, string operation, string reason, TimeSpan retryInterval, string problem);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Debug, Message = "Topology {Topology}: {Operation} in Eureka still failing ({FailureCount} in a row): {Problem}")]
    public static partial void RegistrationStillFailing(ILogger logger, string topology, string operation, int failureCount, string problem);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "Topology {Topology}: registration in Eureka works again after {FailureCount} failures")]
    public static partial void RegistrationRecovered(ILogger logger, string topology, int failureCount);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Information, Message = "Topology {Topology}: the registry no longer knows {InstanceId} (renew answered 404: it restarted or evicted the node); registering again, and keeping nodes it does not list yet for {HoldTime}")]
    public static partial void RegistrationLost(ILogger logger, string topology, string instanceId, TimeSpan holdTime);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "Topology {Topology}: deregistered {InstanceId} from Eureka")]
    public static partial void Deregistered(ILogger logger, string topology, string instanceId);

    [LoggerMessage(EventId = 5008, Level = LogLevel.Debug, Message = "Topology {Topology}: {InstanceId} was not registered in Eureka any more when the node stopped")]
    public static partial void DeregisteredUnknown(ILogger logger, string topology, string instanceId);

    [LoggerMessage(EventId = 5009, Level = LogLevel.Warning, Message = "Topology {Topology}: could not deregister {InstanceId} from Eureka; the registry drops it when its lease expires: {Problem}")]
    public static partial void DeregistrationFailed(ILogger logger, string topology, string instanceId, string problem);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Error, Message = "Topology {Topology}: the Eureka registry gave an unusable answer to {Operation}; keeping the last known nodes: {Problem}")]
    public static partial void BadResponse(ILogger logger, string topology, string operation, string problem);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Warning, Message = "Topology {Topology}: the Eureka registry or its token endpoint refused this node's credentials ({Operation}): {Problem}")]
    public static partial void Unauthorized(ILogger logger, string topology, string operation, string problem);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Debug, Message = "Topology {Topology}: ignoring Eureka instance {InstanceId}: its metadata {MetadataKey} '{Value}' is not valid: {Reason}")]
    public static partial void InstanceIgnored(ILogger logger, string topology, string instanceId, string metadataKey, string value, string reason);

    [LoggerMessage(EventId = 5013, Level = LogLevel.Debug, Message = "Topology {Topology}: skipping part of the registry's answer: {Reason}")]
    public static partial void EntrySkipped(ILogger logger, string topology, string reason);

    [LoggerMessage(EventId = 5014, Level = LogLevel.Debug, Message = "Topology {Topology}: keeping {NodeCount} nodes the registry does not list: {Reason}")]
    public static partial void RemovalsHeldBack(ILogger logger, string topology, int nodeCount, string reason);

    [LoggerMessage(EventId = 5015, Level = LogLevel.Warning, Message = "Topology {Topology}: several service registries are bound ({Bindings}); using '{Binding}'. Set ServiceBindingName to choose one.")]
    public static partial void SeveralBindings(ILogger logger, string topology, string bindings, string binding);

    [LoggerMessage(EventId = 5016, Level = LogLevel.Error, Message = "Topology {Topology}: the Eureka registration loop failed unexpectedly while trying to {Operation}; it goes on")]
    public static partial void UnexpectedFailure(ILogger logger, string topology, string operation, Exception exception);

    [LoggerMessage(EventId = 5017, Level = LogLevel.Trace, Message = "Topology {Topology}: renewed {InstanceId} in Eureka")]
    public static partial void Renewed(ILogger logger, string topology, string instanceId);
}
