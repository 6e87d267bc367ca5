using System.Buffers;

namespace LibCluster.Mesh;

/// <summary>Where connections hand the messages they receive (implemented by the messaging layer).</summary>
internal interface IInboundMessageSink
{
    /// <summary>The delivery state of one connection, used only by its read loop.</summary>
    IInboundDelivery OpenDelivery(PeerConnection from);
}

/// <summary>
/// Takes the messages of one connection, on its read loop, one at a time in arrival order. Messages may be held
/// back and handed over together; <see cref="FlushAsync"/> hands over whatever is held, and the read loop calls it
/// before it waits for more bytes, so nothing is held while the connection is quiet.
/// </summary>
internal interface IInboundDelivery
{
    /// <summary>
    /// Takes a SEND (<paramref name="requestId"/> 0) or REQUEST. <paramref name="payload"/> is valid only until
    /// the returned task completes, so it must be copied if kept. A task that does not complete at once pauses
    /// reading from this peer: that is how a slow handler pushes back on its sender.
    /// </summary>
    ValueTask DeliverAsync(string mailbox, ulong requestId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken);

    /// <summary>Hands over the messages held back so far.</summary>
    ValueTask FlushAsync(CancellationToken cancellationToken);
}
