using System.Collections.Concurrent;
using System.Text;
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
    /// <summary>Messages a mailbox queues before its deliverers wait.</summary>
    public const int DefaultCapacity = 1024;

    /// <summary>Payload bytes a mailbox queues before its deliverers wait, however few the messages.</summary>
    public const long DefaultMaxQueuedBytes = 16 * 1024 * 1024;

    private readonly ConcurrentDictionary<string, Mailbox> _mailboxes = new(StringComparer.Ordinal);
    private readonly NodeName _self;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationToken _stoppingToken;
    private long _droppedMessages;

    public MailboxRegistry(NodeName self, ILogger<MailboxRegistry> logger, int capacity = DefaultCapacity, long maxQueuedBytes = DefaultMaxQueuedBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxQueuedBytes, 1);
        _self = self;
        _logger = logger;
        Capacity = capacity;
        MaxQueuedBytes = maxQueuedBytes;
        _stoppingToken = _stopping.Token;
    }

    public int Capacity { get; }

    public long MaxQueuedBytes { get; }

    /// <summary>Cancelled when the node stops; handlers get it.</summary>
    public CancellationToken Stopping => _stoppingToken;

    /// <summary>One-way messages dropped because their mailbox did not exist.</summary>
    public long DroppedMessages => Interlocked.Read(ref _droppedMessages);

    public static void ValidateName(string mailbox)
    {
        ArgumentException.ThrowIfNullOrEmpty(mailbox);

        // Up to 85 UTF-16 units are at most 255 UTF-8 bytes: only longer names need counting.
        if (mailbox.Length > MessageFrames.MaxMailboxBytes / 3 && Encoding.UTF8.GetByteCount(mailbox) > MessageFrames.MaxMailboxBytes)
        {
            throw new ArgumentException($"The mailbox name '{mailbox}' is longer than {MessageFrames.MaxMailboxBytes} UTF-8 bytes.", nameof(mailbox));
        }
    }

    public IDisposable Register(string name, ClusterMessageHandler handler, MailboxOptions? options = null)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        options ??= MailboxOptions.Default;
        if (options.Capacity is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Capacity, $"The capacity of mailbox '{name}' must be at least 1 message.");
        }

        if (options.CapacityBytes is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.CapacityBytes, $"The byte capacity of mailbox '{name}' must be at least 1.");
        }

        var mailbox = new Mailbox(this, name, handler, options.RunInline, options.Capacity ?? Capacity, options.CapacityBytes ?? MaxQueuedBytes);
        if (!_mailboxes.TryAdd(name, mailbox))
        {
            throw new InvalidOperationException($"A mailbox named '{name}' is already registered on node {_self}.");
        }

        return mailbox;
    }

    public bool IsRegistered(string name) => _mailboxes.ContainsKey(name);

    public IInboundDelivery OpenDelivery(PeerConnection from) => new ConnectionDelivery(this, from);

    internal Mailbox? Find(string name) => _mailboxes.TryGetValue(name, out var mailbox) ? mailbox : null;

    internal bool Remove(Mailbox mailbox) => _mailboxes.TryRemove(new KeyValuePair<string, Mailbox>(mailbox.Name, mailbox));

    /// <summary>A message for a mailbox this node does not have: a request is answered so, a one-way message dropped.</summary>
    internal void NoSuchMailbox(PeerConnection from, string mailbox, ulong requestId)
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

            return;
        }

        Interlocked.Increment(ref _droppedMessages);
        LogNoMailbox(_logger, mailbox, from.Peer);
    }

    private async Task ReplyNoMailboxAsync(PeerConnection from, ulong requestId)
    {
        try
        {
            await from.ReplyAsync(requestId, ReplyStatus.NoMailbox, ReadOnlyMemory<byte>.Empty, _stoppingToken).ConfigureAwait(false);
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

        var batch = MessageBatch.Rent(_self, null);
        batch.Add(0, payload.Span, reply);
        return target.EnqueueAsync(batch, cancellationToken);
    }

    internal void HandlerFailed(Exception exception, string mailbox, NodeName from) => LogHandlerFailed(_logger, exception, mailbox, from);

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

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "Dropped a message for mailbox '{Mailbox}' from {NodeName}: no such mailbox")]
    private static partial void LogNoMailbox(ILogger logger, string mailbox, NodeName nodeName);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "The handler of mailbox '{Mailbox}' failed on a message from {NodeName}")]
    private static partial void LogHandlerFailed(ILogger logger, Exception exception, string mailbox, NodeName nodeName);
}
