using System.Diagnostics.Metrics;

namespace LibCluster.Diagnostics;

/// <summary>
/// The instruments of the <c>LibCluster.Net</c> meter. Tags are low-cardinality (reasons, directions,
/// topology names) and never node names.
/// </summary>
internal sealed class ClusterMetrics
{
    public const string MeterName = "LibCluster.Net";

    private readonly UpDownCounter<long> _connectedNodes;
    private readonly Counter<long> _connectionAttempts;
    private readonly Counter<long> _connectionFailures;
    private readonly Counter<long> _handshakeFailures;
    private readonly Counter<long> _disconnects;
    private readonly Counter<long> _messagesSent;
    private readonly Counter<long> _messagesReceived;
    private readonly Counter<long> _bytesSent;
    private readonly Counter<long> _bytesReceived;
    private readonly Counter<long> _discoveryErrors;
    private readonly Histogram<double> _discoveryDuration;
    private readonly Counter<long> _gossipPacketsDropped;

    /// <param name="meterFactory">The host's meter factory; without one (a bare service collection) the meter is created directly.</param>
    public ClusterMetrics(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _connectedNodes = meter.CreateUpDownCounter<long>("libcluster.nodes.connected", "{node}", "Nodes with an authenticated connection.");
        _connectionAttempts = meter.CreateCounter<long>("libcluster.connection.attempts", "{attempt}", "Outbound dials started.");
        _connectionFailures = meter.CreateCounter<long>("libcluster.connection.failures", "{failure}", "Outbound dials that failed, by reason.");
        _handshakeFailures = meter.CreateCounter<long>("libcluster.handshake.failures", "{failure}", "Handshakes that failed, by reason and direction.");
        _disconnects = meter.CreateCounter<long>("libcluster.connection.closed", "{connection}", "Authenticated connections closed, by reason.");
        _messagesSent = meter.CreateCounter<long>("libcluster.messages.sent", "{message}", "Messages and requests sent to other nodes.");
        _messagesReceived = meter.CreateCounter<long>("libcluster.messages.received", "{message}", "Messages and requests received from other nodes.");
        _bytesSent = meter.CreateCounter<long>("libcluster.bytes.sent", "By", "Payload bytes sent to other nodes.");
        _bytesReceived = meter.CreateCounter<long>("libcluster.bytes.received", "By", "Payload bytes received from other nodes.");
        _discoveryErrors = meter.CreateCounter<long>("libcluster.discovery.errors", "{error}", "Failed discovery polls, by topology.");
        _discoveryDuration = meter.CreateHistogram<double>("libcluster.discovery.duration", "s", "Duration of discovery polls, by topology.");
        _gossipPacketsDropped = meter.CreateCounter<long>("libcluster.gossip.packets.dropped", "{packet}", "Gossip packets ignored, by topology and reason (malformed, bad_seal, replayed, stale, wrong_cluster...).");
    }

    public void NodeConnected() => _connectedNodes.Add(1);

    public void NodeDisconnected(string reason)
    {
        _connectedNodes.Add(-1);
        _disconnects.Add(1, new KeyValuePair<string, object?>("reason", reason));
    }

    public void ConnectionAttempt() => _connectionAttempts.Add(1);

    public void ConnectionFailure(string reason) => _connectionFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void HandshakeFailure(string reason, bool inbound) =>
        _handshakeFailures.Add(1, new KeyValuePair<string, object?>("reason", reason), new KeyValuePair<string, object?>("direction", inbound ? "inbound" : "outbound"));

    public void MessageSent(int payloadBytes)
    {
        _messagesSent.Add(1);
        _bytesSent.Add(payloadBytes);
    }

    public void MessageReceived(long payloadBytes)
    {
        _messagesReceived.Add(1);
        _bytesReceived.Add(payloadBytes);
    }

    public void DiscoveryPoll(string topology, TimeSpan duration, bool failed)
    {
        var tag = new KeyValuePair<string, object?>("topology", topology);
        _discoveryDuration.Record(duration.TotalSeconds, tag);
        if (failed)
        {
            _discoveryErrors.Add(1, tag);
        }
    }

    public void GossipPacketDropped(string topology, string reason) =>
        _gossipPacketsDropped.Add(1, new KeyValuePair<string, object?>("topology", topology), new KeyValuePair<string, object?>("reason", reason));
}
