using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace LibCluster.Mesh.Framing;

/// <summary>The kinds of frame after the handshake: <c>type:u8 | body</c>.</summary>
internal enum FrameType : byte
{
    Tick = 1,
    Send = 2,
    Request = 3,
    Reply = 4,
    Goodbye = 5,
}

/// <summary>How a request ended on the node that handled it.</summary>
internal enum ReplyStatus : byte
{
    Ok = 0,
    NoMailbox = 1,
    HandlerFailed = 2,
    NoReply = 3,
}

/// <summary>A decoded data frame. Mailbox and payload are slices of the receive buffer, valid until it advances.</summary>
internal readonly struct DataFrame
{
    public FrameType Type { get; init; }

    public ulong Id { get; init; }

    public ReplyStatus Status { get; init; }

    public ReadOnlySequence<byte> Mailbox { get; init; }

    public ReadOnlySequence<byte> Payload { get; init; }
}

/// <summary>Encodes and strictly decodes data frames (docs/protocol.md).</summary>
internal static class MessageFrames
{
    public const int MaxMailboxBytes = 255;

    /// <summary>Bytes of a REPLY frame's payload besides the reply's own bytes: type, id, status.</summary>
    public const int ReplyOverhead = 1 + 8 + 1;

    public static void WriteTick(IBufferWriter<byte> writer)
    {
        FrameCodec.WriteHeader(writer, 1);
        var span = writer.GetSpan(1);
        span[0] = (byte)FrameType.Tick;
        writer.Advance(1);
    }

    public static void WriteGoodbye(IBufferWriter<byte> writer, string reason)
    {
        var length = Encoding.UTF8.GetByteCount(reason);
        FrameCodec.WriteHeader(writer, 1 + length);
        var span = writer.GetSpan(1 + length);
        span[0] = (byte)FrameType.Goodbye;
        Encoding.UTF8.GetBytes(reason, span[1..]);
        writer.Advance(1 + length);
    }

    /// <summary>SEND when <paramref name="requestId"/> is 0, otherwise REQUEST.</summary>
    public static void WriteMessage(IBufferWriter<byte> writer, ulong requestId, string mailbox, ReadOnlySpan<byte> payload) =>
        WriteMessage(writer, requestId, EncodeMailbox(mailbox), payload);

    /// <summary>The UTF-8 bytes of a mailbox name, checked against the frame's limit.</summary>
    public static byte[] EncodeMailbox(string mailbox)
    {
        var bytes = Encoding.UTF8.GetBytes(mailbox);
        if (bytes.Length is < 1 or > MaxMailboxBytes)
        {
            throw new ArgumentException($"A mailbox name must be 1 to {MaxMailboxBytes} UTF-8 bytes; '{mailbox}' is {bytes.Length}.", nameof(mailbox));
        }

        return bytes;
    }

    /// <summary>SEND when <paramref name="requestId"/> is 0, otherwise REQUEST, to a mailbox given as checked UTF-8 bytes.</summary>
    public static void WriteMessage(IBufferWriter<byte> writer, ulong requestId, ReadOnlySpan<byte> mailbox, ReadOnlySpan<byte> payload)
    {
        var headLength = 1 + (requestId == 0 ? 0 : 8) + 1 + mailbox.Length;
        var total = FrameCodec.HeaderSize + headLength + payload.Length;

        // One span for the whole frame when the writer has room (the usual case): no per-part bookkeeping.
        var span = writer.GetSpan(FrameCodec.HeaderSize + headLength);
        var whole = span.Length >= total;
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)(headLength + payload.Length));
        var offset = FrameCodec.HeaderSize;
        span[offset++] = (byte)(requestId == 0 ? FrameType.Send : FrameType.Request);
        if (requestId != 0)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[offset..], requestId);
            offset += 8;
        }

        span[offset++] = (byte)mailbox.Length;
        mailbox.CopyTo(span[offset..]);
        offset += mailbox.Length;
        if (whole)
        {
            payload.CopyTo(span[offset..]);
            writer.Advance(total);
            return;
        }

        writer.Advance(offset);
        writer.Write(payload);
    }

    public static void WriteReply(IBufferWriter<byte> writer, ulong requestId, ReplyStatus status, ReadOnlySpan<byte> payload)
    {
        const int headLength = 1 + 8 + 1;
        FrameCodec.WriteHeader(writer, headLength + payload.Length);
        var span = writer.GetSpan(headLength);
        span[0] = (byte)FrameType.Reply;
        BinaryPrimitives.WriteUInt64BigEndian(span[1..], requestId);
        span[9] = (byte)status;
        writer.Advance(headLength);
        writer.Write(payload);
    }

    /// <summary>Decodes one frame payload; anything malformed is a <see cref="MeshProtocolException"/>.</summary>
    public static DataFrame Decode(ReadOnlySequence<byte> frame)
    {
        if (frame.IsSingleSegment && TryDecodeMessage(frame, out var message))
        {
            return message;
        }

        var reader = new SequenceReader<byte>(frame);
        if (!reader.TryRead(out var typeByte))
        {
            throw Bad("an empty frame");
        }

        var type = (FrameType)typeByte;
        switch (type)
        {
            case FrameType.Tick:
                if (!reader.End)
                {
                    throw Bad("a TICK with a body");
                }

                return new DataFrame { Type = type };

            case FrameType.Goodbye:
                return new DataFrame { Type = type, Payload = reader.UnreadSequence };

            case FrameType.Send:
            case FrameType.Request:
            {
                ulong id = 0;
                if (type == FrameType.Request && (!reader.TryReadBigEndian(out long rawId) || rawId == 0))
                {
                    throw Bad("a REQUEST without a valid id");
                }
                else if (type == FrameType.Request)
                {
                    id = ReadId(frame);
                }

                if (!reader.TryRead(out var mailboxLength) || mailboxLength == 0 || reader.Remaining < mailboxLength)
                {
                    throw Bad("a message with a missing or truncated mailbox name");
                }

                var mailbox = reader.UnreadSequence.Slice(0, mailboxLength);
                reader.Advance(mailboxLength);
                return new DataFrame { Type = type, Id = id, Mailbox = mailbox, Payload = reader.UnreadSequence };
            }

            case FrameType.Reply:
            {
                if (!reader.TryReadBigEndian(out long replyId) || replyId == 0 || !reader.TryRead(out var status) || status > (byte)ReplyStatus.NoReply)
                {
                    throw Bad("a malformed REPLY");
                }

                return new DataFrame { Type = type, Id = ReadId(frame), Status = (ReplyStatus)status, Payload = reader.UnreadSequence };
            }

            default:
                throw Bad($"an unknown frame type {typeByte}");
        }
    }

    /// <summary>
    /// The common case without a <see cref="SequenceReader{T}"/>: a well-formed SEND or REQUEST in one segment.
    /// Anything else (other types, malformed frames) is left to the general decoder, which reports the problem.
    /// </summary>
    private static bool TryDecodeMessage(ReadOnlySequence<byte> frame, out DataFrame message)
    {
        var span = frame.FirstSpan;
        message = default;
        if (span.Length < 2)
        {
            return false;
        }

        int offset;
        ulong id = 0;
        switch ((FrameType)span[0])
        {
            case FrameType.Send:
                offset = 1;
                break;
            case FrameType.Request when span.Length >= 10:
                id = BinaryPrimitives.ReadUInt64BigEndian(span[1..]);
                if (id == 0)
                {
                    return false;
                }

                offset = 9;
                break;
            default:
                return false;
        }

        var mailboxLength = span[offset++];
        if (mailboxLength == 0 || span.Length - offset < mailboxLength)
        {
            return false;
        }

        message = new DataFrame
        {
            Type = (FrameType)span[0],
            Id = id,
            Mailbox = frame.Slice(offset, mailboxLength),
            Payload = frame.Slice(offset + mailboxLength),
        };
        return true;
    }

    private static ulong ReadId(ReadOnlySequence<byte> frame)
    {
        Span<byte> id = stackalloc byte[8];
        frame.Slice(1, 8).CopyTo(id);
        return BinaryPrimitives.ReadUInt64BigEndian(id);
    }

    private static MeshProtocolException Bad(string what) => new("protocol_error", $"The peer sent {what}.");
}
