using System.Buffers;

namespace LibCluster.Mesh;

/// <summary>
/// Where a connection hands the messages it receives (implemented by the messaging layer). Called on the
/// connection's read loop, one message at a time in arrival order.
/// </summary>
internal interface IInboundMessageSink
{
    /// <summary>
    /// Takes a SEND (<paramref name="requestId"/> 0) or REQUEST. <paramref name="payload"/> is valid only until
    /// the returned task completes, so it must be copied if kept. A task that does not complete at once pauses
    /// reading from this peer: that is how a slow handler pushes back on its sender.
    /// </summary>
    ValueTask DeliverAsync(PeerConnection from, string mailbox, ulong requestId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken);
}
