using System.Buffers;
using LibCluster.Mesh;

namespace LibCluster.Messaging;

/// <summary>
/// Delivers what one connection receives: consecutive messages for the same mailbox are copied into one
/// <see cref="MessageBatch"/> and queued together when the mailbox changes, the batch is full, or the read loop has
/// used up its receive buffer. An idle inline mailbox runs its handler on the receive buffer itself.
/// </summary>
internal sealed class ConnectionDelivery(MailboxRegistry registry, PeerConnection from) : IInboundDelivery
{
    // The read loop hands the same string instance for a repeated mailbox name: one lookup per run of names.
    private string? _lastName;
    private Mailbox? _lastMailbox;
    private MessageBatch? _open;
    private Mailbox? _openTarget;

    public ValueTask DeliverAsync(string mailbox, ulong requestId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        var target = Resolve(mailbox);
        if (target is null)
        {
            registry.NoSuchMailbox(from, mailbox, requestId);
            return ValueTask.CompletedTask;
        }

        if (_open is not null)
        {
            if (ReferenceEquals(_openTarget, target))
            {
                _open.Add(requestId, payload);
                return _open.IsFull ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;
            }

            var flushed = FlushAsync(cancellationToken);
            if (!flushed.IsCompletedSuccessfully)
            {
                return DeliverAfterAsync(flushed, target, requestId, payload, cancellationToken);
            }

            flushed.GetAwaiter().GetResult();
        }

        return Start(target, requestId, payload, cancellationToken);
    }

    private async ValueTask DeliverAfterAsync(ValueTask flushed, Mailbox target, ulong requestId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        await flushed.ConfigureAwait(false);
        await Start(target, requestId, payload, cancellationToken).ConfigureAwait(false);
    }

    private ValueTask Start(Mailbox target, ulong requestId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        if (target.RunInline && payload.IsSingleSegment && target.TryRunInline(from, requestId, payload.First, out var run))
        {
            return run;
        }

        _open = MessageBatch.Rent(from.Peer, from);
        _openTarget = target;
        _open.Add(requestId, payload);
        return _open.IsFull ? FlushAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        if (_open is null)
        {
            return ValueTask.CompletedTask;
        }

        var batch = _open;
        var target = _openTarget!;
        _open = null;
        _openTarget = null;
        return target.EnqueueAsync(batch, cancellationToken);
    }

    private Mailbox? Resolve(string name)
    {
        if (ReferenceEquals(name, _lastName) && _lastMailbox is { IsClosed: false })
        {
            return _lastMailbox;
        }

        _lastName = name;
        _lastMailbox = registry.Find(name);
        return _lastMailbox;
    }
}
