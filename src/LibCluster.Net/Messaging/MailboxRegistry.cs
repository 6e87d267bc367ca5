using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Messaging;

/// <summary>
/// The named mailboxes of this node. Each has a bounded queue and one consumer, so its handler sees one message
/// at a time in arrival order; a full queue makes the connection that feeds it stop reading (backpressure).
/// </summary>
internal sealed partial class MailboxRegistry : IInboundMessageSink, IAsyncDisposable, IDisposable
{
    public const int DefaultCapacity = 1024;

    private readonly ConcurrentDictionary<string, Mailbox> _mailboxes = new(StringComparer.Ordinal);
    private readonly NodeName _self;
    private readonly int _capacity;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private long _droppedMessages;

    public MailboxRegistry(NodeName self, ILogger<MailboxRegistry> logger, int capacity = DefaultCapacity)
    {
        _self = self;
        _logger = logger;
        _capacity = capacity;
    }

    /// <summary>One-way messages dropped because their mailbox did not exist.</summary>
    public long DroppedMessages => Interlocked.Read(ref _droppedMessages);

    public static void ValidateName(string mailbox)
    {
        ArgumentException.ThrowIfNullOrEmpty(mailbox);
        if (Encoding.UTF8.GetByteCount(mailbox) > MessageFrames.MaxMailboxBytes)
        {
            throw new ArgumentException($"The mailbox name '{mailbox}' is longer than {MessageFrames.MaxMailboxBytes} UTF-8 bytes.", nameof(mailbox));
        }
    }

    public IDisposable Register(string name, ClusterMessageHandler handler, MailboxOptions? options = null)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        var mailbox = new Mailbox(this, name, handler, (options ?? MailboxOptions.Default).RunInline);
        if (!_mailboxes.TryAdd(name, mailbox))
        {
            throw new InvalidOperationException($"A mailbox named '{name}' is already registered on node {_self}.");
        }

        return mailbox;
    }

    public bool IsRegistered(string name) => _mailboxes.ContainsKey(name);

    public ValueTask DeliverAsync(PeerConnection from, string mailbox, ulong requestId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        if (!_mailboxes.TryGetValue(mailbox, out var target))
        {
            if (requestId != 0)
            {
                // Not awaited: if both peers' output buffers were full, a read loop waiting to write would never read again.
                // Bounded: a peer that sends such requests but never reads the answers gets no more than a few queued;
                // the rest are dropped and their requesters time out.
                if (from.TryBeginBackgroundReply())
                {
                    _ = ReplyNoMailboxAsync(from, requestId);
                }
                else
                {
                    Interlocked.Increment(ref _droppedMessages);
                }

                return ValueTask.CompletedTask;
            }

            Interlocked.Increment(ref _droppedMessages);
            LogNoMailbox(_logger, mailbox, from.Peer);
            return ValueTask.CompletedTask;
        }

        var length = (int)payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
        payload.CopyTo(buffer);
        return target.EnqueueAsync(new Envelope(from.Peer, from, requestId, null, buffer, length), cancellationToken);
    }

    private async Task ReplyNoMailboxAsync(PeerConnection from, ulong requestId)
    {
        try
        {
            await from.ReplyAsync(requestId, ReplyStatus.NoMailbox, ReadOnlyMemory<byte>.Empty, _stopping.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ClusterException or OperationCanceledException or ObjectDisposedException)
        {
            // The requester is gone, or this node is stopping: nobody is waiting for the answer.
        }
        finally
        {
            from.EndBackgroundReply();
        }
    }

    /// <summary>Delivers a message sent by this node to itself.</summary>
    public ValueTask DeliverLocalAsync(string mailbox, ReadOnlyMemory<byte> payload, TaskCompletionSource<ReplyResult>? reply, CancellationToken cancellationToken)
    {
        if (!_mailboxes.TryGetValue(mailbox, out var target))
        {
            if (reply is not null)
            {
                reply.TrySetResult(new ReplyResult(ReplyStatus.NoMailbox, []));
            }
            else
            {
                Interlocked.Increment(ref _droppedMessages);
            }

            return ValueTask.CompletedTask;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);
        return target.EnqueueAsync(new Envelope(_self, null, 0, reply, buffer, payload.Length), cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        await Task.WhenAll(_mailboxes.Values.Select(m => m.StopAsync())).ConfigureAwait(false);
        _stopping.Dispose();
    }

    /// <summary>For containers disposed synchronously; see <see cref="ConnectionManager.Dispose"/>.</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private readonly record struct Envelope(NodeName From, PeerConnection? Connection, ulong RequestId, TaskCompletionSource<ReplyResult>? LocalReply, byte[] Buffer, int Length);

    /// <summary>
    /// One named mailbox. Its handler runs for one message at a time, in arrival order. An idle mailbox starts its
    /// handler on the thread pool, or, with <see cref="MailboxOptions.RunInline"/>, right on the delivering thread (no
    /// thread hop); while it is busy, messages wait in a bounded queue that the running handler's thread drains, and a
    /// full queue makes deliverers wait (backpressure).
    /// </summary>
    private sealed class Mailbox(MailboxRegistry registry, string name, ClusterMessageHandler handler, bool runInline) : IDisposable
    {
        private readonly Channel<Envelope> _queue = Channel.CreateBounded<Envelope>(new BoundedChannelOptions(registry._capacity)
        {
            SingleReader = false,
            FullMode = BoundedChannelFullMode.Wait,
        });

        // 1 while one thread owns the mailbox: it runs the handler and drains the queue before letting go.
        private int _owned;
        private Task _draining = Task.CompletedTask;

        public ValueTask EnqueueAsync(Envelope envelope, CancellationToken cancellationToken = default)
        {
            if (_queue.Reader.Count == 0 && Interlocked.CompareExchange(ref _owned, 1, 0) == 0)
            {
                if (runInline)
                {
                    var run = DrainAsync(envelope);
                    if (!run.IsCompleted)
                    {
                        _draining = run;
                    }
                }
                else
                {
                    // A handler that blocks its thread must not stall the connection that delivers to it.
                    _draining = Task.Run(() => DrainAsync(envelope), CancellationToken.None);
                }

                return ValueTask.CompletedTask;
            }

            if (_queue.Writer.TryWrite(envelope))
            {
                TryStartDraining();
                return ValueTask.CompletedTask;
            }

            return SlowEnqueueAsync(envelope, cancellationToken);
        }

        private async ValueTask SlowEnqueueAsync(Envelope envelope, CancellationToken cancellationToken)
        {
            try
            {
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, registry._stopping.Token);
                await _queue.Writer.WriteAsync(envelope, linked.Token).ConfigureAwait(false);
                TryStartDraining();
            }
            catch (Exception ex) when (ex is ChannelClosedException or OperationCanceledException)
            {
                await RefuseAsync(envelope).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
            }
        }

        /// <summary>Takes ownership if nobody has it and something is queued (the owner may have let go just now).</summary>
        private void TryStartDraining()
        {
            if (_queue.Reader.Count > 0 && Interlocked.CompareExchange(ref _owned, 1, 0) == 0)
            {
                if (runInline)
                {
                    var run = DrainAsync(null);
                    if (!run.IsCompleted)
                    {
                        _draining = run;
                    }
                }
                else
                {
                    _draining = Task.Run(() => DrainAsync(null), CancellationToken.None);
                }
            }
        }

        /// <summary>Runs as the owner: handles <paramref name="first"/>, then whatever is queued, then lets go.</summary>
        private async Task DrainAsync(Envelope? first)
        {
            if (first is { } envelope)
            {
                await HandleAsync(envelope).ConfigureAwait(false);
            }

            while (true)
            {
                while (_queue.Reader.TryRead(out var queued))
                {
                    await HandleAsync(queued).ConfigureAwait(false);
                }

                Volatile.Write(ref _owned, 0);

                // A message queued between the last read and letting go would otherwise wait for the next one.
                if (_queue.Reader.Count == 0 || Interlocked.CompareExchange(ref _owned, 1, 0) != 0)
                {
                    return;
                }
            }
        }

        private async ValueTask HandleAsync(Envelope envelope)
        {
            var token = registry._stopping.Token;
            var message = new ClusterMessage(envelope.From, name, envelope.Buffer.AsMemory(0, envelope.Length), envelope.RequestId, envelope.Connection, envelope.LocalReply);
            try
            {
                await handler(message, token).ConfigureAwait(false);
                if (message.IsRequest && !message.HasReplied)
                {
                    await message.ReplyAsync(ReplyStatus.NoReply, "the handler returned without replying"u8.ToArray(), token).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
            {
                LogHandlerFailed(registry._logger, ex, name, envelope.From);
                if (message.IsRequest && !message.HasReplied)
                {
                    await TryReplyAsync(message, ReplyStatus.HandlerFailed, Encoding.UTF8.GetBytes($"{ex.GetType().Name}: {ex.Message}")).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                // The node is stopping.
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(envelope.Buffer);
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

        private static async ValueTask RefuseAsync(Envelope envelope)
        {
            ArrayPool<byte>.Shared.Return(envelope.Buffer);
            envelope.LocalReply?.TrySetResult(new ReplyResult(ReplyStatus.NoMailbox, []));
            if (envelope.Connection is not null && envelope.RequestId != 0)
            {
                try
                {
                    await envelope.Connection.ReplyAsync(envelope.RequestId, ReplyStatus.NoMailbox, ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is ClusterException or OperationCanceledException)
                {
                }
            }
        }

        public async Task StopAsync()
        {
            _queue.Writer.TryComplete();
            TryStartDraining();
            await _draining.ConfigureAwait(false);
        }

        public void Dispose()
        {
            if (registry._mailboxes.TryRemove(new KeyValuePair<string, Mailbox>(name, this)))
            {
                // Messages already queued are still handled; new ones find no mailbox.
                _queue.Writer.TryComplete();
            }
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Dropped a message for mailbox '{Mailbox}' from {NodeName}: no such mailbox")]
    private static partial void LogNoMailbox(ILogger logger, string mailbox, NodeName nodeName);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "The handler of mailbox '{Mailbox}' failed on a message from {NodeName}")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string mailbox, NodeName nodeName);
}
