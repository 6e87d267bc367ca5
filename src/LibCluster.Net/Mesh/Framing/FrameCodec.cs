using System.Buffers;
using System.Buffers.Binary;

namespace LibCluster.Mesh.Framing;

/// <summary>
/// Length-prefixed frames: <c>uint32 big-endian length | payload</c>. The length is checked against the cap
/// as soon as the header is read, so a peer cannot make us buffer more than the cap.
/// </summary>
internal static class FrameCodec
{
    public const int HeaderSize = 4;

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/>. The payload is a slice of the buffer,
    /// valid until the reader is advanced. Returns false when more bytes are needed.
    /// </summary>
    /// <exception cref="MeshProtocolException">The length prefix is above <paramref name="maxFrameBytes"/>.</exception>
    public static bool TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out ReadOnlySequence<byte> payload)
    {
        payload = default;
        if (buffer.Length < HeaderSize)
        {
            return false;
        }

        uint length;
        var first = buffer.FirstSpan;
        if (first.Length >= HeaderSize)
        {
            length = BinaryPrimitives.ReadUInt32BigEndian(first);
        }
        else
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            buffer.Slice(0, HeaderSize).CopyTo(header);
            length = BinaryPrimitives.ReadUInt32BigEndian(header);
        }

        if (length > (uint)maxFrameBytes)
        {
            throw new MeshProtocolException("frame_too_large", $"A frame of {length} bytes is over the limit of {maxFrameBytes} bytes.");
        }

        if (buffer.Length - HeaderSize < length)
        {
            return false;
        }

        payload = buffer.Slice(HeaderSize, length);
        buffer = buffer.Slice(payload.End);
        return true;
    }

    /// <summary>Writes a frame header for a payload of <paramref name="payloadLength"/> bytes.</summary>
    public static void WriteHeader(IBufferWriter<byte> writer, int payloadLength)
    {
        var span = writer.GetSpan(HeaderSize);
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)payloadLength);
        writer.Advance(HeaderSize);
    }

    /// <summary>Writes a whole frame.</summary>
    public static void WriteFrame(IBufferWriter<byte> writer, ReadOnlySpan<byte> payload)
    {
        WriteHeader(writer, payload.Length);
        writer.Write(payload);
    }
}
