using System.Buffers;
using System.Buffers.Binary;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;
using LibCluster.Tests.Mesh;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// The length-prefix parser (<see cref="FrameCodec.TryReadFrame"/>) on whatever bytes arrive, cut into pieces the way a
/// pipe hands them out, under the handshake cap (1 KiB) and the default data cap (8 MiB). Every frame it returns must be
/// exactly the bytes the input holds at that place and no longer than the cap; a length over the cap must be refused from
/// the header alone; what is left must be a true prefix of the next frame.
/// </summary>
internal sealed class FrameTarget : FuzzTarget
{
    private const int DataCap = 8 * 1024 * 1024;

    private static readonly IReadOnlySet<string> Reasons = new HashSet<string>(StringComparer.Ordinal) { "frame_too_large" };

    public override string Name => "frame";

    /// <summary>Slicing a sequence allocates nothing; only the refusal (an exception and its message) does.</summary>
    public override long AllocationBudget => HandshakeMessages.MaxHandshakeFrameBytes;

    protected override IReadOnlySet<string> AllowedReasons => Reasons;

    public override IEnumerable<byte[]> Seeds()
    {
        yield return [];
        yield return [0, 0, 0];
        yield return [0, 0, 0, 0];
        yield return [0, 0, 0, 1, 1];
        yield return [0, 0, 4, 0];
        yield return [0, 0, 4, 1];
        yield return [0xFF, 0xFF, 0xFF, 0xFF];
        yield return [0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3];
        yield return [0x80, 0, 0, 0];
        yield return [0, 0x80, 0, 0];
        yield return [0, 0x80, 0, 1];
        yield return [.. Frame([1, 2, 3]), .. Frame([]), .. Frame([4])];
        yield return [.. Frame(new byte[HandshakeMessages.MaxHandshakeFrameBytes]), 0, 0];
        yield return "GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray();
    }

    protected override string Execute(byte[] input, AllocationMeter meter)
    {
        var hash = HashOf(input);
        var handshake = Parse(input, HandshakeMessages.MaxHandshakeFrameBytes, hash, meter);
        var data = Parse(input, DataCap, hash >> 7, meter);
        return $"1KiB: {handshake} | 8MiB: {data}";
    }

    private static string Parse(byte[] input, int cap, ulong cuts, AllocationMeter meter)
    {
        var buffer = Cut(input, cuts);
        var frames = 0;
        long offset = 0;
        try
        {
            while (true)
            {
                meter.Start();
                var more = FrameCodec.TryReadFrame(ref buffer, cap, out var payload);
                meter.Stop();
                if (!more)
                {
                    break;
                }

                var length = (long)BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan((int)offset));
                if (payload.Length != length || payload.Length > cap)
                {
                    throw new FuzzFailure($"frame: a payload of {payload.Length} bytes where the header says {length} (cap {cap}) in {Hex(input)}");
                }

                if (!payload.ToArray().AsSpan().SequenceEqual(input.AsSpan((int)offset + 4, (int)length)))
                {
                    throw new FuzzFailure($"frame: payload {frames} is not the input's bytes in {Hex(input)}");
                }

                offset += 4 + length;
                frames++;
            }
        }
        catch (LibCluster.Mesh.MeshProtocolException ex) when (ex.Reason == "frame_too_large")
        {
            meter.Stop();
            var announced = input.Length - offset >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan((int)offset)) : 0;
            if (announced <= (uint)cap)
            {
                throw new FuzzFailure($"frame: refused a frame of {announced} bytes under the cap {cap} in {Hex(input)}");
            }

            return $"{Bucket(frames)} frames, then too large";
        }

        var rest = input.Length - offset;
        if (buffer.Length != rest)
        {
            throw new FuzzFailure($"frame: {buffer.Length} bytes left where {rest} should be in {Hex(input)}");
        }

        if (rest >= 4 && BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan((int)offset)) <= rest - 4)
        {
            throw new FuzzFailure($"frame: a whole frame was left unread in {Hex(input)}");
        }

        return $"{Bucket(frames)} frames, {(rest == 0 ? "nothing" : rest < 4 ? "a partial header" : "a partial payload")} left";
    }

    /// <summary>Cuts the input into segments of 0 to 7 bytes chosen by <paramref name="cuts"/> (one segment when it is 0 mod 4).</summary>
    internal static ReadOnlySequence<byte> Cut(byte[] input, ulong cuts)
    {
        if (cuts % 4 == 0)
        {
            return new ReadOnlySequence<byte>(input);
        }

        var random = new Random((int)(cuts ^ (cuts >> 32)));
        var sizes = new List<int>();
        var total = 0;
        while (total < input.Length)
        {
            var size = random.Next(0, 8);
            sizes.Add(size);
            total += size;
        }

        return TestSequences.Split(input, [.. sizes]);
    }

    private static string Bucket(int count) => count switch
    {
        0 => "0",
        1 => "1",
        2 => "2",
        _ => "3+",
    };

    internal static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(writer, payload);
        return writer.WrittenSpan.ToArray();
    }
}

/// <summary>
/// The data-frame decoder (<see cref="MessageFrames.Decode"/>) on one frame payload, whole and cut into pieces. What it
/// accepts must be well formed: a mailbox of 1 to 255 bytes inside the frame, a non-zero request id, a known status.
/// </summary>
internal sealed class MessageTarget : FuzzTarget
{
    private static readonly IReadOnlySet<string> Reasons = new HashSet<string>(StringComparer.Ordinal) { "protocol_error" };

    public override string Name => "message";

    /// <summary>Decoding slices the frame; only a refusal allocates (the exception and its message).</summary>
    public override long AllocationBudget => HandshakeMessages.MaxHandshakeFrameBytes;

    protected override IReadOnlySet<string> AllowedReasons => Reasons;

    public override IEnumerable<byte[]> Seeds()
    {
        var writer = new ArrayBufferWriter<byte>();
        MessageFrames.WriteTick(writer);
        MessageFrames.WriteGoodbye(writer, "shutdown");
        MessageFrames.WriteMessage(writer, 0, "ping", "hi"u8);
        MessageFrames.WriteMessage(writer, 7, "ping", "hi"u8);
        MessageFrames.WriteMessage(writer, ulong.MaxValue, new string('m', 255), []);
        MessageFrames.WriteReply(writer, 7, ReplyStatus.Ok, "ho"u8);
        MessageFrames.WriteReply(writer, 9, ReplyStatus.HandlerFailed, "boom"u8);
        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
        while (FrameCodec.TryReadFrame(ref buffer, int.MaxValue, out var payload))
        {
            yield return payload.ToArray();
        }

        yield return [];
        yield return [0];
        yield return [6];
        yield return [(byte)FrameType.Tick, 0];
        yield return [(byte)FrameType.Send];
        yield return [(byte)FrameType.Send, 0];
        yield return [(byte)FrameType.Send, 5, (byte)'a'];
        yield return [(byte)FrameType.Send, 2, 0xC3, 0x28];
        yield return [(byte)FrameType.Request, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte)'a'];
        yield return [(byte)FrameType.Request, 0, 0, 0];
        yield return [(byte)FrameType.Reply, 0, 0, 0, 0, 0, 0, 0, 1, 4];
        yield return [(byte)FrameType.Reply, 0, 0, 0, 0, 0, 0, 0, 1];
    }

    protected override string Execute(byte[] input, AllocationMeter meter)
    {
        var whole = Attempt(new ReadOnlySequence<byte>(input), input, meter);
        var cut = Attempt(FrameTarget.Cut(input, HashOf(input) | 1), input, meter);
        if (whole != cut)
        {
            throw new FuzzFailure($"message: decoded as '{whole}' whole but '{cut}' in pieces: {Hex(input)}");
        }

        return whole;
    }

    /// <summary>The decoded frame's description, or the refusal's (the same whether the frame came whole or in pieces).</summary>
    private static string Attempt(ReadOnlySequence<byte> frame, byte[] input, AllocationMeter meter)
    {
        try
        {
            return Decode(frame, input, meter);
        }
        catch (LibCluster.Mesh.MeshProtocolException ex) when (Reasons.Contains(ex.Reason))
        {
            meter.Stop();
            return $"{ex.Reason}: {Shape(ex.Message)}";
        }
    }

    private static string Decode(ReadOnlySequence<byte> frame, byte[] input, AllocationMeter meter)
    {
        meter.Start();
        var decoded = MessageFrames.Decode(frame);
        meter.Stop();

        switch (decoded.Type)
        {
            case FrameType.Tick:
                Expect(input.Length == 1, "a TICK with a body", input);
                break;
            case FrameType.Goodbye:
                Expect(decoded.Payload.Length == input.Length - 1, "a GOODBYE whose reason is not the rest of the frame", input);
                break;
            case FrameType.Send or FrameType.Request:
                var head = decoded.Type == FrameType.Request ? 10 : 2;
                Expect(decoded.Mailbox.Length is >= 1 and <= MessageFrames.MaxMailboxBytes, "a mailbox of a bad length", input);
                Expect(decoded.Mailbox.Length == input[head - 1], "a mailbox length that is not the one announced", input);
                Expect(head + decoded.Mailbox.Length + decoded.Payload.Length == input.Length, "a mailbox and payload that are not the frame", input);
                Expect(decoded.Type == FrameType.Send ? decoded.Id == 0 : decoded.Id == BinaryPrimitives.ReadUInt64BigEndian(input.AsSpan(1)) && decoded.Id != 0, "a bad request id", input);
                break;
            case FrameType.Reply:
                Expect(decoded.Id != 0 && decoded.Id == BinaryPrimitives.ReadUInt64BigEndian(input.AsSpan(1)), "a bad reply id", input);
                Expect(decoded.Status <= ReplyStatus.NoReply && (byte)decoded.Status == input[9], "a bad status", input);
                Expect(10 + decoded.Payload.Length == input.Length, "a payload that is not the rest of the frame", input);
                break;
            default:
                throw new FuzzFailure($"message: accepted an unknown type {decoded.Type} in {Hex(input)}");
        }

        return $"{decoded.Type}{(decoded.Payload.IsEmpty ? string.Empty : " with payload")}";
    }

    private static void Expect(bool condition, string what, byte[] input)
    {
        if (!condition)
        {
            throw new FuzzFailure($"message: accepted {what}: {Hex(input)}");
        }
    }
}
