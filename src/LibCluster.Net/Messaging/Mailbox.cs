using System.Collections.Concurrent;
using System.Text;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Nodes;

namespace LibCluster.Messaging;

/// <summary>
/// One named mailbox. Its handler runs for one message at a time, in arrival order. Messages wait in a queue of
/// batches; an idle mailbox that gets a batch starts draining it on the thread pool, or, with
/// <see cref="MailboxOptions.RunInline"/>, runs the handler right on the delivering thread, on the receive buffer's
/// own bytes (no hop, no copy). Whoever owns the mailbox drains the queue before letting go. The queue is bounded in
/// messages and in bytes: a deliverer that fills it waits until the handler has caught up (backpressure).
/// </summary>
internal sealed class Mailbox : IDisposable
{
    private readonly MailboxRegistry _registry;
    private readonly ClusterMessageHandler _handler;
    private readonly ConcurrentQueue<MessageBatch> _queue = new();
    private readonly Func<Task> _drain;
    private readonly Lock _spaceGate = new();
    private TaskCompletionSource? _space;

    // What waits in the queue is what was put in less what the handler has taken out. Deliverers add whole batches
    // (atomically, as there may be several); only the owner takes messages out, one by one, so its counts need no
    // atomic operation, and a handler blocked on its first message leaves the rest of its batch counted as waiting.
    private long _enqueuedMessages;
    private long _enqueuedBytes;
    private long _takenMessages;
    private long _takenBytes;

    // 1 while one thread owns the mailbox: it runs the handler and drains the queue before letting go.
    private int _owned;
    private volatile bool _closed;
    private ClusterMessage? _oneWay;

    // Set while StopAsync waits for the owner to let go.
    private TaskCompletionSource? _released;

    public Mailbox(MailboxRegistry registry, string name, ClusterMessageHandler handler, bool runInline, int capacity, long capacityBytes)
    {
        _registry = registry;
        Name = name;
        _handler = handler;
        RunInline = runInline;
        _capacity = capacity;
        _capacityBytes = capacityBytes;
        _drain = DrainAsync;
    }

    private readonly int _capacity;
    private readonly long _capacityBytes;

    public string Name { get; }

    public bool RunInline { get; }

    /// <summary>True once the mailbox was disposed or its registry stopped: it takes no more messages.</summary>
    public bool IsClosed => _closed;

    private long WaitingMessages => Volatile.Read(ref _enqueuedMessages) - Volatile.Read(ref _takenMessages);

    private bool IsFull =>
        WaitingMessages >= _capacity
        || Volatile.Read(ref _enqueuedBytes) - Volatile.Read(ref _takenBytes) >= _capacityBytes;

    /// <summary>
    /// Runs the handler for one message on this thread if the mailbox is idle and nothing waits in its queue;
    /// <paramref name="payload"/> must stay valid until <paramref name="run"/> completes. False: queue it instead.
    /// </summary>
    public bool TryRunInline(PeerConnection connection, ulong requestId, ReadOnlyMemory<byte> payload, out ValueTask run)
    {
        if (_closed || WaitingMessages != 0 || Interlocked.CompareExchange(ref _owned, 1, 0) != 0)
        {
            run = default;
            return false;
        }

        var message = requestId == 0 ? OneWay(connection.Peer, payload) : new ClusterMessage(connection.Peer, Name, payload, requestId, connection, null);
        var handled = HandleAsync(message);
        if (handled.IsCompletedSuccessfully)
        {
            handled.GetAwaiter().GetResult();
            run = ReleaseOrDrain();
            return true;
        }

        run = new ValueTask(FinishInlineAsync(handled));
        return true;
    }

    private async Task FinishInlineAsync(ValueTask handled)
    {
        await handled.ConfigureAwait(false);
        await ReleaseOrDrain().ConfigureAwait(false);
    }

    /// <summary>
    /// The message object for a one-way message: one per mailbox, reused, as only the owner runs the handler and
    /// only for one message at a time (requests get their own, as they carry a reply).
    /// </summary>
    private ClusterMessage OneWay(NodeName from, ReadOnlyMemory<byte> payload) =>
        _oneWay is { } message ? message.Reuse(from, payload) : _oneWay = new ClusterMessage(from, Name, payload, 0, null, null);

    /// <summary>Queues a batch; the task completes at once unless the queue is full, and then once there is room.</summary>
    public ValueTask EnqueueAsync(MessageBatch batch, CancellationToken cancellationToken)
    {
        if (_closed)
        {
            return RefuseAsync(batch);
        }

        Interlocked.Add(ref _enqueuedMessages, batch.Count);
        Interlocked.Add(ref _enqueuedBytes, batch.Bytes);
        _queue.Enqueue(batch);
        TryStartDraining();
        return IsFull ? WaitForSpaceAsync(cancellationToken) : ValueTask.CompletedTask;
    }

    private async ValueTask WaitForSpaceAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task space;
            lock (_spaceGate)
            {
                if (!IsFull || _closed)
                {
                    return;
                }

                _space ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                space = _space.Task;
            }

            // What is queued stays queued and is handled: only this deliverer stops waiting.
            await space.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private void SignalSpace()
    {
        if (Volatile.Read(ref _space) is null)
        {
            return;
        }

        lock (_spaceGate)
        {
            if (_space is not null && (!IsFull || _closed))
            {
                _space.TrySetResult();
                _space = null;
            }
        }
    }

    /// <summary>Takes ownership if nobody has it and something is queued (the owner may have let go just now).</summary>
    private void TryStartDraining()
    {
        if (!_queue.IsEmpty && Interlocked.CompareExchange(ref _owned, 1, 0) == 0)
        {
            if (RunInline)
            {
                _ = DrainAsync();
            }
            else
            {
                // A handler that blocks its thread must not stall the connection that delivers to it.
                _ = Task.Run(_drain, CancellationToken.None);
            }
        }
    }

    /// <summary>After an inline run: let go, unless batches arrived meanwhile; then drain them first.</summary>
    private ValueTask ReleaseOrDrain()
    {
        if (_queue.IsEmpty)
        {
            LetGo();
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _owned, 1, 0) != 0)
            {
                return ValueTask.CompletedTask;
            }
        }

        return new ValueTask(DrainAsync());
    }

    private void LetGo()
    {
        // A full fence: the queue is looked at again right after, and an enqueuer that saw the mailbox owned must
        // not be missed (store then load on different fields may otherwise be reordered).
        Interlocked.Exchange(ref _owned, 0);
        if (_closed)
        {
            Volatile.Read(ref _released)?.TrySetResult();
        }
    }

    /// <summary>Runs as the owner: handles whatever is queued, then lets go.</summary>
    private async Task DrainAsync()
    {
        while (true)
        {
            while (_queue.TryDequeue(out var batch))
            {
                try
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        var entry = batch[i];

                        // Counted out when taken, as a channel would: the bound is on what waits, not on what is in hand.
                        Volatile.Write(ref _takenMessages, _takenMessages + 1);
                        Volatile.Write(ref _takenBytes, _takenBytes + entry.Length);
                        SignalSpace();
                        var message = entry.IsRequest
                            ? new ClusterMessage(batch.From, Name, batch.Payload(entry), entry.RequestId, batch.Connection, entry.LocalReply)
                            : OneWay(batch.From, batch.Payload(entry));
                        await HandleAsync(message).ConfigureAwait(false);
                    }
                }
                finally
                {
                    batch.Return();
                }
            }

            LetGo();

            // A batch queued between the last dequeue and letting go would otherwise wait for the next one.
            if (_queue.IsEmpty || Interlocked.CompareExchange(ref _owned, 1, 0) != 0)
            {
                return;
            }
        }
    }

    /// <summary>Runs the handler; a one-way message whose handler finished at once needs no async method at all.</summary>
    private ValueTask HandleAsync(ClusterMessage message)
    {
        ValueTask handled;
        try
        {
            handled = _handler(message, _registry.Stopping);
        }
        catch (Exception ex)
        {
            handled = ValueTask.FromException(ex);
        }

        if (handled.IsCompletedSuccessfully && !message.IsRequest)
        {
            handled.GetAwaiter().GetResult();
            return ValueTask.CompletedTask;
        }

        return FinishHandleAsync(message, handled);
    }

    private async ValueTask FinishHandleAsync(ClusterMessage message, ValueTask handled)
    {
        var token = _registry.Stopping;
        try
        {
            await handled.ConfigureAwait(false);
            if (message.IsRequest && !message.HasReplied)
            {
                await message.ReplyAsync(ReplyStatus.NoReply, "the handler returned without replying"u8.ToArray(), token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            _registry.HandlerFailed(ex, Name, message.From);
            if (message.IsRequest && !message.HasReplied)
            {
                await TryReplyAsync(message, ReplyStatus.HandlerFailed, Encoding.UTF8.GetBytes($"{ex.GetType().Name}: {ex.Message}")).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The node is stopping.
        }
    }

    private static async ValueTask TryReplyAsync(ClusterMessage message, ReplyStatus status, byte[] payload)
    {
        try
        {
            await message.ReplyAsync(status, payload, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ClusterException or InvalidOperationException or OperationCanceledException or ArgumentException)
        {
            // The requester is gone; nothing to tell.
        }
    }

    /// <summary>A closed mailbox answers the requests of a batch that reached it too late as if it did not exist.</summary>
    private static async ValueTask RefuseAsync(MessageBatch batch)
    {
        try
        {
            for (var i = 0; i < batch.Count; i++)
            {
                var entry = batch[i];
                entry.LocalReply?.TrySetResult(new ReplyResult(ReplyStatus.NoMailbox, []));
                if (batch.Connection is not null && entry.RequestId != 0)
                {
                    try
                    {
                        await batch.Connection.ReplyAsync(entry.RequestId, ReplyStatus.NoMailbox, ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is ClusterException or OperationCanceledException)
                    {
                    }
                }
            }
        }
        finally
        {
            batch.Return();
        }
    }

    /// <summary>Stops taking messages, lets the queue drain and waits for the handler to finish.</summary>
    public async Task StopAsync()
    {
        Close();
        while (true)
        {
            if (Volatile.Read(ref _owned) == 0)
            {
                if (_queue.IsEmpty)
                {
                    return;
                }

                TryStartDraining();
                continue;
            }

            var released = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _released, released);
            if (Volatile.Read(ref _owned) != 0)
            {
                await released.Task.ConfigureAwait(false);
            }
        }
    }

    private void Close()
    {
        _closed = true;
        lock (_spaceGate)
        {
            _space?.TrySetResult();
            _space = null;
        }
    }

    public void Dispose()
    {
        if (_registry.Remove(this))
        {
            // Messages already queued are still handled; new ones find no mailbox.
            Close();
        }
    }
}
