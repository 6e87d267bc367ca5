using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Nodes;

namespace LibCluster.Messaging;

/// <summary>
/// A message delivered to a mailbox. Like its payload, it is valid only while the handler runs: the same instance
/// may carry a later one-way message to the mailbox (one-way streams allocate nothing per message), so copy what
/// you keep.
/// </summary>
public sealed class ClusterMessage
{
    private readonly PeerConnection? _connection;
    private readonly TaskCompletionSource<ReplyResult>? _localReply;
    private readonly ulong _requestId;
    private int _replied;

    internal ClusterMessage(NodeName from, string mailbox, ReadOnlyMemory<byte> payload, ulong requestId, PeerConnection? connection, TaskCompletionSource<ReplyResult>? localReply)
    {
        From = from;
        Mailbox = mailbox;
        Payload = payload;
        _requestId = requestId;
        _connection = connection;
        _localReply = localReply;
    }

    /// <summary>Points a one-way message object at the next one-way message of its mailbox.</summary>
    internal ClusterMessage Reuse(NodeName from, ReadOnlyMemory<byte> payload)
    {
        From = from;
        Payload = payload;
        return this;
    }

    /// <summary>The node that sent it.</summary>
    public NodeName From { get; private set; }

    /// <summary>The mailbox it was sent to.</summary>
    public string Mailbox { get; }

    /// <summary>The bytes sent. Valid only while the handler runs: copy what you keep.</summary>
    public ReadOnlyMemory<byte> Payload { get; private set; }

    /// <summary>True when the sender waits for a reply (<see cref="ICluster.RequestAsync"/>).</summary>
    public bool IsRequest => _requestId != 0 || _localReply is not null;

    internal bool HasReplied => Volatile.Read(ref _replied) != 0;

    /// <summary>Answers the request. Only the first reply counts; replying to a one-way message throws.</summary>
    public ValueTask ReplyAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default) =>
        ReplyAsync(ReplyStatus.Ok, payload, cancellationToken);

    internal ValueTask ReplyAsync(ReplyStatus status, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        if (!IsRequest)
        {
            throw new InvalidOperationException($"The message to mailbox '{Mailbox}' from {From} is not a request; there is nobody to reply to.");
        }

        if (Interlocked.Exchange(ref _replied, 1) != 0)
        {
            throw new InvalidOperationException($"The request to mailbox '{Mailbox}' from {From} has already been replied to.");
        }

        if (_localReply is not null)
        {
            _localReply.TrySetResult(new ReplyResult(status, payload.ToArray()));
            return ValueTask.CompletedTask;
        }

        return ReplyRemoteAsync(status, payload, cancellationToken);
    }

    private async ValueTask ReplyRemoteAsync(ReplyStatus status, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        try
        {
            await _connection!.ReplyAsync(_requestId, status, payload, cancellationToken).ConfigureAwait(false);
        }
        catch (ArgumentException)
        {
            Volatile.Write(ref _replied, 0);
            throw;
        }
    }
}

/// <summary>The reply to a request.</summary>
public sealed class ClusterReply
{
    internal ClusterReply(NodeName from, ReadOnlyMemory<byte> payload)
    {
        From = from;
        Payload = payload;
    }

    /// <summary>The node that replied.</summary>
    public NodeName From { get; }

    /// <summary>The reply's bytes (owned by the caller).</summary>
    public ReadOnlyMemory<byte> Payload { get; }
}
