using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text;
using LibCluster.Diagnostics;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Transport;
using LibCluster;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Mesh;

/// <summary>A reply to a request, as it came off the wire.</summary>
internal readonly record struct ReplyResult(ReplyStatus Status, byte[] Payload);

/// <summary>
/// One authenticated connection to a peer, after the handshake: writes frames under one lock (so frames from
/// many callers never interleave and each caller's frames stay in order), reads and dispatches frames on one
/// loop, answers ticks, correlates requests with replies, and closes exactly once with a reason.
/// </summary>
// The closing token source is only ever cancelled (no timer, no wait handle), so it holds nothing to dispose.
#pragma warning disable CA1001
internal sealed partial class PeerConnection
#pragma warning restore CA1001
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(2);

    private readonly SocketPipe _pipe;
    private readonly MeshSettings _settings;
    private readonly ClusterMetrics _metrics;
    private readonly ILogger _logger;
    private readonly WriteGate _writeLock = new();
    private readonly ConcurrentDictionary<ulong, PendingRequest> _pendingRequests = new();
    private readonly TaskCompletionSource<string> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _closing = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private static long s_nextRequestId;
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);
    private IInboundDelivery? _delivery;
    private string? _sendMailbox;
    private byte[] _sendMailboxBytes = [];
    private string? _lastMailbox;
    private byte[] _lastMailboxBytes = [];
    private Task _readLoop = Task.CompletedTask;
    private int _closingFlag;
    private readonly CancellationTokenSource _closingCts = new();

    // Tick bookkeeping, touched only by the manager's tick timer (and _wroteSinceTick by writers).
    private long _lastBytesReceived;
    // -1: the interval in which the connection was made is only partly over at the first tick; it does not count.
    private int _silentTicks = -1;
    private volatile bool _wroteSinceTick;
    private volatile bool _readPausedByHandlers;

    public PeerConnection(SocketPipe pipe, NodeName peer, uint peerCreation, bool dialledBySelf, MeshSettings settings, ClusterMetrics metrics, ILogger logger)
    {
        _pipe = pipe;
        Peer = peer;
        PeerCreation = peerCreation;
        DialledBySelf = dialledBySelf;
        _settings = settings;
        _metrics = metrics;
        _logger = logger;
        _lastBytesReceived = pipe.BytesReceived;
    }

    public NodeName Peer { get; }

    public uint PeerCreation { get; }

    /// <summary>True when this node dialled the connection (it decides which connection survives a simultaneous connect).</summary>
    public bool DialledBySelf { get; }

    public System.Net.EndPoint? RemoteEndPoint => _pipe.RemoteEndPoint;

    /// <summary>True when the connection runs over TLS.</summary>
    public bool IsSecure => _pipe.IsSecure;

    /// <summary>Completes, with the reason, once the connection is closed.</summary>
    public Task<string> Closed => _closed.Task;

    /// <summary>
    /// Completes, with the reason, as soon as closing starts: the node is down from then on, even if a handler
    /// running on the read loop keeps the close itself from finishing.
    /// </summary>
    public Task<string> Closing => _closing.Task;

    public bool IsClosed => Volatile.Read(ref _closingFlag) != 0;

    /// <summary>Starts reading frames; messages go to <paramref name="sink"/>.</summary>
    public void Start(IInboundMessageSink sink)
    {
        _delivery = sink.OpenDelivery(this);

        // A send that fails (reset, broken pipe) ends the connection even while reading is paused by a full mailbox.
        _ = _pipe.SendLoopEnded.ContinueWith(
            static (_, state) => ((PeerConnection)state!).CloseAsync(DisconnectReasons.ConnectionClosed, sendGoodbye: false),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        _readLoop = ReadLoopAsync();
    }

    /// <summary>Sends a message (<paramref name="requestId"/> 0) or a request; waits while the outbound buffer is full.</summary>
    public ValueTask SendAsync(string mailbox, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken, ulong requestId = 0)
    {
        // The common case takes the write lock at once and finds room in the buffer: no await, no allocation.
        // Otherwise (the lock is held, writers are queued, or the buffer is full) the slow path waits in order.
        if (!_writeLock.TryEnter())
        {
            return SendQueuedAsync(mailbox, payload, requestId, cancellationToken);
        }

        var flush = WriteMessageLocked(mailbox, payload.Span, requestId);
        if (!flush.IsCompletedSuccessfully)
        {
            return FinishSendAsync(flush, payload.Length, cancellationToken);
        }

        var closed = flush.Result.IsCompleted;
        _writeLock.Exit();
        if (closed)
        {
            ThrowClosed();
        }

        _metrics.MessageSent(payload.Length);
        return ValueTask.CompletedTask;
    }

    private async ValueTask SendQueuedAsync(string mailbox, ReadOnlyMemory<byte> payload, ulong requestId, CancellationToken cancellationToken)
    {
        await _writeLock.EnterAsync(cancellationToken).ConfigureAwait(false);
        var flush = WriteMessageLocked(mailbox, payload.Span, requestId);
        await FinishSendAsync(flush, payload.Length, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask FinishSendAsync(ValueTask<FlushResult> flush, int payloadBytes, CancellationToken cancellationToken)
    {
        await FinishFlushAsync(flush, cancellationToken).ConfigureAwait(false);
        _metrics.MessageSent(payloadBytes);
    }

    /// <summary>
    /// Waits for a flush begun under the write lock (the buffer was full), then lets the lock go. A caller that
    /// gives up leaves its frame queued, and the lock held until the flush ends, so frames never interleave.
    /// </summary>
    private async ValueTask FinishFlushAsync(ValueTask<FlushResult> flush, CancellationToken cancellationToken)
    {
        var release = true;
        try
        {
            FlushResult result;
            if (cancellationToken.CanBeCanceled)
            {
                var pending = flush.AsTask();
                try
                {
                    result = await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    release = false;
                    _ = ReleaseAfter(pending);
                    throw;
                }
            }
            else
            {
                result = await flush.ConfigureAwait(false);
            }

            if (result.IsCompleted)
            {
                ThrowClosed();
            }
        }
        catch (InvalidOperationException)
        {
            // The pipe was completed under us by a concurrent close.
            ThrowClosed();
        }
        finally
        {
            if (release)
            {
                _writeLock.Exit();
            }
        }
    }

    /// <summary>
    /// Writes one SEND or REQUEST frame and begins its flush; the caller holds the write lock, which is let go here
    /// if nothing was written (closed, payload too large), and otherwise by whoever finishes the flush.
    /// </summary>
    private ValueTask<FlushResult> WriteMessageLocked(string mailbox, ReadOnlySpan<byte> payload, ulong requestId)
    {
        try
        {
            return WriteMessageCore(mailbox, payload, requestId);
        }
        catch
        {
            _writeLock.Exit();
            throw;
        }
    }

    private ValueTask<FlushResult> WriteMessageCore(string mailbox, ReadOnlySpan<byte> payload, ulong requestId)
    {
        ThrowIfClosed();

        // Streams mostly address one mailbox: its bytes are encoded once, not per message.
        if (!ReferenceEquals(mailbox, _sendMailbox))
        {
            _sendMailboxBytes = MessageFrames.EncodeMailbox(mailbox);
            _sendMailbox = mailbox;
        }

        var limit = _settings.MaxFrameBytes - (1 + (requestId == 0 ? 0 : 8) + 1 + _sendMailboxBytes.Length);
        if (payload.Length > limit)
        {
            // The peer would close the whole connection over it; refuse the one message instead.
            throw new ArgumentException(
                $"A payload of {payload.Length} bytes is over the limit of {limit} bytes (LibCluster:Node:MaxFrameBytes less the frame header).",
                nameof(payload));
        }

        try
        {
            MessageFrames.WriteMessage(_pipe.Output, requestId, _sendMailboxBytes, payload);
            _wroteSinceTick = true;

            // Someone waits for a request's answer: send it now rather than after a hop to the send loop.
            return requestId == 0 ? _pipe.Output.FlushAsync(CancellationToken.None) : SendScheduler.FlushInline(_pipe.Output, CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            // The pipe was completed under us by a concurrent close.
            ThrowClosed();
            throw;
        }
    }

    /// <summary>
    /// Sends a request and waits for its reply, at most <paramref name="timeout"/> (then <see cref="TimeoutException"/>).
    /// Fails fast with <see cref="NodeDownException"/> if the connection drops.
    /// </summary>
    public ValueTask<ReplyResult> RequestAsync(string mailbox, ReadOnlyMemory<byte> payload, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        var pending = PendingRequest.Rent(time);
        var id = (ulong)Interlocked.Increment(ref s_nextRequestId);
        var reply = pending.Start(this, id, timeout, cancellationToken);
        if (IsClosed)
        {
            pending.TrySetException(ClosedException());
            return reply;
        }

        ValueTask sent;
        try
        {
            sent = SendAsync(mailbox, payload, cancellationToken, id);
        }
        catch (Exception ex)
        {
            pending.TrySetException(ex);
            return reply;
        }

        if (sent.IsCompletedSuccessfully)
        {
            sent.GetAwaiter().GetResult();
        }
        else
        {
            _ = FailIfNotSentAsync(sent, pending);
        }

        return reply;
    }

    private static async Task FailIfNotSentAsync(ValueTask sent, PendingRequest pending)
    {
        try
        {
            await sent.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            pending.TrySetException(ex);
        }
    }

    internal void TrackRequest(ulong id, PendingRequest pending) => _pendingRequests[id] = pending;

    internal void ForgetRequest(ulong id) => _pendingRequests.TryRemove(id, out _);

    private const int MaxBackgroundReplies = 64;
    private int _backgroundReplies;

    /// <summary>
    /// Claims one of a few slots for a reply written off the read loop; false when they are all taken (the peer is
    /// not reading its answers), so such replies cannot pile up without bound.
    /// </summary>
    public bool TryBeginBackgroundReply()
    {
        if (Interlocked.Increment(ref _backgroundReplies) <= MaxBackgroundReplies)
        {
            return true;
        }

        Interlocked.Decrement(ref _backgroundReplies);
        return false;
    }

    /// <summary>Gives back a slot taken with <see cref="TryBeginBackgroundReply"/>.</summary>
    public void EndBackgroundReply() => Interlocked.Decrement(ref _backgroundReplies);

    /// <summary>Answers a request this node received on this connection.</summary>
    public async ValueTask ReplyAsync(ulong requestId, ReplyStatus status, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (payload.Length > _settings.MaxFrameBytes - MessageFrames.ReplyOverhead)
        {
            throw new ArgumentException(
                $"A reply of {payload.Length} bytes is over the limit of {_settings.MaxFrameBytes - MessageFrames.ReplyOverhead} bytes (LibCluster:Node:MaxFrameBytes less the frame header).",
                nameof(payload));
        }

        await _writeLock.EnterAsync(cancellationToken).ConfigureAwait(false);
        ValueTask<FlushResult> flush;
        try
        {
            ThrowIfClosed();
            MessageFrames.WriteReply(_pipe.Output, requestId, status, payload.Span);
            _wroteSinceTick = true;
            flush = SendScheduler.FlushInline(_pipe.Output, CancellationToken.None);
        }
        catch (InvalidOperationException)
        {
            _writeLock.Exit();
            ThrowClosed();
            throw;
        }
        catch
        {
            _writeLock.Exit();
            throw;
        }

        await FinishFlushAsync(flush, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Called every TickTime/4. Sends a TICK if nothing else went out since the last call; returns false once
    /// nothing has been received for four calls in a row (one whole TickTime), unless it is this node's own
    /// handlers that stopped the reading.
    /// </summary>
    public bool OnTick()
    {
        var received = _pipe.BytesReceived;
        if (received != _lastBytesReceived || _readPausedByHandlers)
        {
            _lastBytesReceived = received;
            _silentTicks = 0;
        }
        else if (++_silentTicks >= 4)
        {
            return false;
        }

        if (!_wroteSinceTick)
        {
            TrySendTick();
        }

        _wroteSinceTick = false;
        return true;
    }

    /// <summary>Sends a TICK now unless a write is already in progress (which carries the same news).</summary>
    public void TrySendTick()
    {
        if (!_writeLock.TryEnter())
        {
            return;
        }

        try
        {
            if (IsClosed)
            {
                return;
            }

            MessageFrames.WriteTick(_pipe.Output);
            var flush = _pipe.Output.FlushAsync();
            if (!flush.IsCompleted)
            {
                // The peer is not draining our output: keep the lock until the tick is queued so writes stay framed.
                _ = ReleaseAfter(flush.AsTask());
                return;
            }
        }
        catch (InvalidOperationException)
        {
        }

        _writeLock.Exit();
    }

    private async Task ReleaseAfter(Task flush)
    {
        try
        {
            await flush.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or IOException)
        {
        }
        finally
        {
            _writeLock.Exit();
        }
    }

    /// <summary>
    /// Closes the connection once. With <paramref name="sendGoodbye"/> the peer is told the reason first and
    /// output already queued is given a moment to drain.
    /// </summary>
    public async Task CloseAsync(string reason, bool sendGoodbye)
    {
        if (Interlocked.Exchange(ref _closingFlag, 1) != 0)
        {
            await _closed.Task.ConfigureAwait(false);
            return;
        }

        _closing.TrySetResult(reason);

        if (sendGoodbye)
        {
            if (await _writeLock.TryEnterAsync(DrainTimeout).ConfigureAwait(false))
            {
                try
                {
                    MessageFrames.WriteGoodbye(_pipe.Output, reason);
                    using var cts = new CancellationTokenSource(DrainTimeout);
                    await _pipe.Output.FlushAsync(cts.Token).ConfigureAwait(false);
                    await _pipe.CloseAsync(DrainTimeout).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or IOException)
                {
                }
                finally
                {
                    _writeLock.Exit();
                }
            }
        }

        // Disposing the socket fails a read in progress; the read loop then ends and completes the reader.
        await _pipe.DisposeAsync().ConfigureAwait(false);
        _closingCts.Cancel();

        foreach (var pending in _pendingRequests)
        {
            pending.Value.TrySetException(new NodeDownException(Peer, reason));
        }

        if (!ReferenceEquals(_readLoop, Task.CompletedTask))
        {
            try
            {
                await _readLoop.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException)
            {
            }
        }

        _closed.TrySetResult(reason);
    }

    private async Task ReadLoopAsync()
    {
        await Task.Yield();
        var reader = _pipe.Input;
        var reason = DisconnectReasons.ConnectionClosed;
        try
        {
            while (!IsClosed)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    while (FrameCodec.TryReadFrame(ref buffer, _settings.MaxFrameBytes, out var frame))
                    {
                        var decoded = MessageFrames.Decode(frame);
                        if (decoded.Type is FrameType.Send or FrameType.Request)
                        {
                            // No async method per message: the loop itself awaits only a delivery that did not finish.
                            var delivered = Deliver(decoded);
                            if (!delivered.IsCompletedSuccessfully)
                            {
                                await HandOverAsync(delivered).ConfigureAwait(false);
                            }

                            continue;
                        }

                        var goodbye = HandleControlFrame(decoded);
                        if (goodbye is not null)
                        {
                            reason = goodbye;
                            return;
                        }
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.Start, buffer.End);
                }

                // Messages held back while this buffer was parsed go to their mailboxes before the loop waits for more.
                var handedOver = _delivery!.FlushAsync(_closingCts.Token);
                if (!handedOver.IsCompletedSuccessfully)
                {
                    await HandOverAsync(handedOver).ConfigureAwait(false);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (MeshProtocolException ex)
        {
            reason = DisconnectReasons.ProtocolError;
            LogProtocolError(_logger, Peer, RemoteEndPoint, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
        }
        finally
        {
            // Whatever arrived before the end (a GOODBYE, a reset) is still handed over; a full mailbox is not waited for.
            _ = HandOverRemainingAsync();
            await reader.CompleteAsync().ConfigureAwait(false);
            _ = CloseAsync(reason, sendGoodbye: false);
        }
    }

    private async ValueTask HandOverAsync(ValueTask handedOver)
    {
        // A full mailbox holds this loop; the silence is ours, not the peer's, so the tick check must not count it.
        _readPausedByHandlers = true;
        try
        {
            await handedOver.ConfigureAwait(false);
        }
        finally
        {
            _readPausedByHandlers = false;
        }
    }

    private async Task HandOverRemainingAsync()
    {
        try
        {
            await _delivery!.FlushAsync(_closingCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The batch is queued; only the wait for room in the mailbox was given up.
        }
    }

    /// <summary>Handles a TICK, GOODBYE or REPLY; returns the peer's goodbye reason when it said goodbye.</summary>
    private string? HandleControlFrame(DataFrame frame)
    {
        switch (frame.Type)
        {
            case FrameType.Goodbye:
                // Only reasons we know become NodeDown reasons and metric tags: a peer must not invent tag values.
                return frame.Payload.Length <= 32 ? KnownGoodbyeReason(Encoding.UTF8.GetString(frame.Payload)) : DisconnectReasons.ConnectionClosed;

            case FrameType.Reply:
                if (_pendingRequests.TryRemove(frame.Id, out var pending))
                {
                    pending.TrySetResult(new ReplyResult(frame.Status, frame.Payload.ToArray()));
                }

                return null;

            default:
                return null;
        }
    }

    /// <summary>Hands a SEND or REQUEST to its mailbox; the task completes once the payload is no longer needed.</summary>
    private ValueTask Deliver(DataFrame frame)
    {
        var mailbox = MailboxName(frame.Mailbox);
        _metrics.MessageReceived(frame.Payload.Length);

        // An idle inline mailbox runs its handler right here; while it holds this loop, the silence is ours, not the
        // peer's, so the tick check must not count it.
        _readPausedByHandlers = true;
        try
        {
            return _delivery!.DeliverAsync(mailbox, frame.Id, frame.Payload, _closingCts.Token);
        }
        finally
        {
            _readPausedByHandlers = false;
        }
    }

    /// <summary>
    /// The mailbox name of a frame. Streams mostly address one mailbox, so the last name is kept and reused while the
    /// bytes match: no string per message.
    /// </summary>
    private string MailboxName(ReadOnlySequence<byte> bytes)
    {
        if (bytes.IsSingleSegment && _lastMailbox is not null && bytes.FirstSpan.SequenceEqual(_lastMailboxBytes))
        {
            return _lastMailbox;
        }

        Span<byte> name = stackalloc byte[MessageFrames.MaxMailboxBytes];
        var length = (int)bytes.Length;
        bytes.CopyTo(name);
        name = name[..length];
        if (_lastMailbox is not null && name.SequenceEqual(_lastMailboxBytes))
        {
            return _lastMailbox;
        }

        try
        {
            _lastMailbox = StrictUtf8.GetString(name);
        }
        catch (DecoderFallbackException)
        {
            throw new MeshProtocolException("protocol_error", "The peer sent a mailbox name that is not valid UTF-8.");
        }

        _lastMailboxBytes = name.ToArray();
        return _lastMailbox;
    }

    private static string KnownGoodbyeReason(string text) => text switch
    {
        DisconnectReasons.Shutdown => DisconnectReasons.Shutdown,
        DisconnectReasons.Disconnect => DisconnectReasons.Disconnect,
        DisconnectReasons.Replaced => DisconnectReasons.Replaced,
        DisconnectReasons.Restarted => DisconnectReasons.Restarted,
        DisconnectReasons.TickTimeout => DisconnectReasons.TickTimeout,
        _ => DisconnectReasons.ConnectionClosed,
    };

    private void ThrowIfClosed()
    {
        if (IsClosed)
        {
            ThrowClosed();
        }
    }

    // The reason is known from the moment closing starts: a writer woken by the close must not report a guess.
    private void ThrowClosed() => throw ClosedException();

    private NodeDownException ClosedException() => new(Peer, _closing.Task.IsCompleted ? _closing.Task.Result : DisconnectReasons.ConnectionClosed);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "Closing the connection to {NodeName} at {RemoteEndPoint}: {Problem}")]
    private static partial void LogProtocolError(ILogger logger, NodeName nodeName, System.Net.EndPoint? remoteEndPoint, string problem);
}
