using System.Buffers;
using System.Collections.Concurrent;
using LibCluster.Mesh;
using LibCluster.Nodes;

namespace LibCluster.Messaging;

/// <summary>
/// Messages for one mailbox from one sender, copied out of a receive buffer together: one queue entry, one wake-up
/// of the mailbox and one rented block of memory for a whole run of messages, instead of one of each per message.
/// Batches are pooled; a pooled batch holds no payload memory.
/// </summary>
internal sealed class MessageBatch
{
    /// <summary>A batch is handed to its mailbox once it holds this many messages...</summary>
    public const int MaxMessages = 256;

    /// <summary>...or this many payload bytes (a single larger message makes a batch of one).</summary>
    public const int MaxBytes = 64 * 1024;

    private const int PoolSize = 64;
    private static readonly ConcurrentQueue<MessageBatch> s_pool = new();
    private static int s_pooled;

    private Entry[] _entries = new Entry[16];
    private byte[] _data = [];

    private MessageBatch()
    {
    }

    public NodeName From { get; private set; }

    /// <summary>The connection the messages came on (replies go back on it); null for messages this node sent itself.</summary>
    public PeerConnection? Connection { get; private set; }

    public int Count { get; private set; }

    /// <summary>Payload bytes held.</summary>
    public int Bytes { get; private set; }

    public bool IsFull => Count >= MaxMessages || Bytes >= MaxBytes;

    public static MessageBatch Rent(NodeName from, PeerConnection? connection)
    {
        if (!s_pool.TryDequeue(out var batch))
        {
            batch = new MessageBatch();
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }

        batch.From = from;
        batch.Connection = connection;
        return batch;
    }

    /// <summary>Gives the payload memory back and the batch to the pool; nothing of it may be used afterwards.</summary>
    public void Return()
    {
        if (_data.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_data);
            _data = [];
        }

        Array.Clear(_entries, 0, Count);
        Count = 0;
        Bytes = 0;
        From = default;
        Connection = null;
        if (Interlocked.Increment(ref s_pooled) <= PoolSize)
        {
            s_pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
        }
    }

    public void Add(ulong requestId, ReadOnlySequence<byte> payload, TaskCompletionSource<ReplyResult>? localReply = null)
    {
        var length = (int)payload.Length;
        var offset = Reserve(length);
        payload.CopyTo(_data.AsSpan(offset));
        Append(new Entry(requestId, offset, length, localReply));
    }

    public void Add(ulong requestId, ReadOnlySpan<byte> payload, TaskCompletionSource<ReplyResult>? localReply = null)
    {
        var offset = Reserve(payload.Length);
        payload.CopyTo(_data.AsSpan(offset));
        Append(new Entry(requestId, offset, payload.Length, localReply));
    }

    public ref readonly Entry this[int index] => ref _entries[index];

    public ReadOnlyMemory<byte> Payload(in Entry entry) => _data.AsMemory(entry.Offset, entry.Length);

    private int Reserve(int length)
    {
        var offset = Bytes;
        if (offset + length > _data.Length)
        {
            var grown = ArrayPool<byte>.Shared.Rent(Math.Max(offset + length, Math.Max(4096, _data.Length * 2)));
            _data.AsSpan(0, offset).CopyTo(grown);
            if (_data.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_data);
            }

            _data = grown;
        }

        Bytes = offset + length;
        return offset;
    }

    private void Append(Entry entry)
    {
        if (Count == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        _entries[Count++] = entry;
    }

    /// <summary>One message of the batch: where its payload lies, and whom to answer when it is a request.</summary>
    public readonly record struct Entry(ulong RequestId, int Offset, int Length, TaskCompletionSource<ReplyResult>? LocalReply)
    {
        public bool IsRequest => RequestId != 0 || LocalReply is not null;
    }
}
