using System.Buffers.Binary;
using System.Text;
using LibCluster.Nodes;

namespace LibCluster.Mesh.Handshake;

/// <summary>What the acceptor says to HELLO, before anyone has proven anything.</summary>
internal enum HandshakeStatus : byte
{
    Ok = 0,
    NotAllowed = 1,
    UnsupportedVersion = 2,
}

/// <summary>The acceptor's decision, sent inside the authenticated ACK so that no stranger can cause it.</summary>
internal enum HandshakeVerdict : byte
{
    /// <summary>The connection is accepted.</summary>
    Ok = 0,

    /// <summary>Simultaneous connect: the acceptor has the greater name and its own dial wins.</summary>
    Nok = 1,

    /// <summary>The acceptor already has a live connection with this incarnation that it keeps.</summary>
    Alive = 2,
}

/// <summary>HELLO and CHALLENGE carry the same identity block.</summary>
internal readonly record struct HandshakeIdentity(NodeName Name, uint Creation, ulong Flags, byte[] Nonce);

/// <summary>Encoding and strict decoding of the handshake frames (see docs/protocol.md).</summary>
internal static class HandshakeMessages
{
    public const byte HelloTag = (byte)'H';
    public const byte StatusTag = (byte)'S';
    public const byte ChallengeTag = (byte)'C';
    public const byte ReplyTag = (byte)'R';
    public const byte AckTag = (byte)'A';

    public const uint Magic = 0x4C434E4D; // "LCNM"
    public const ushort ProtocolVersion = 1;
    public const int NonceSize = 32;
    public const int MacSize = 32;

    /// <summary>Handshake frames are small; anything bigger is refused before it is buffered.</summary>
    public const int MaxHandshakeFrameBytes = 1024;

    // tag | magic u32 | version u16 | flags u64 | creation u32 | nonce[32] | nameLen u8 | name
    public static byte[] EncodeHello(HandshakeIdentity identity)
    {
        var name = Encoding.UTF8.GetBytes(identity.Name.Value);
        var bytes = new byte[1 + 4 + 2 + 8 + 4 + NonceSize + 1 + name.Length];
        var span = bytes.AsSpan();
        span[0] = HelloTag;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], Magic);
        BinaryPrimitives.WriteUInt16BigEndian(span[5..], ProtocolVersion);
        WriteIdentity(span[7..], identity, name);
        return bytes;
    }

    // tag | flags u64 | creation u32 | nonce[32] | nameLen u8 | name
    public static byte[] EncodeChallenge(HandshakeIdentity identity)
    {
        var name = Encoding.UTF8.GetBytes(identity.Name.Value);
        var bytes = new byte[1 + 8 + 4 + NonceSize + 1 + name.Length];
        bytes[0] = ChallengeTag;
        WriteIdentity(bytes.AsSpan(1), identity, name);
        return bytes;
    }

    public static byte[] EncodeStatus(HandshakeStatus status) => [StatusTag, (byte)status];

    public static byte[] EncodeReply(ReadOnlySpan<byte> mac)
    {
        var bytes = new byte[1 + MacSize];
        bytes[0] = ReplyTag;
        mac.CopyTo(bytes.AsSpan(1));
        return bytes;
    }

    public static byte[] EncodeAck(HandshakeVerdict verdict, ReadOnlySpan<byte> mac)
    {
        var bytes = new byte[2 + MacSize];
        bytes[0] = AckTag;
        bytes[1] = (byte)verdict;
        mac.CopyTo(bytes.AsSpan(2));
        return bytes;
    }

    /// <summary>Decodes HELLO. A version we do not speak is reported through <paramref name="version"/>, not thrown.</summary>
    public static HandshakeIdentity DecodeHello(ReadOnlySpan<byte> frame, out ushort version)
    {
        Expect(frame, HelloTag, 1 + 4 + 2, "HELLO");
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[1..]) != Magic)
        {
            throw Bad("the HELLO does not start with the LibCluster.Net magic; the peer is not a LibCluster.Net node");
        }

        version = BinaryPrimitives.ReadUInt16BigEndian(frame[5..]);
        return version == ProtocolVersion ? ReadIdentity(frame[7..], "HELLO") : default;
    }

    public static HandshakeStatus DecodeStatus(ReadOnlySpan<byte> frame)
    {
        Expect(frame, StatusTag, 2, "STATUS");
        if (frame.Length != 2 || frame[1] > (byte)HandshakeStatus.UnsupportedVersion)
        {
            throw Bad("the STATUS is malformed");
        }

        return (HandshakeStatus)frame[1];
    }

    public static HandshakeIdentity DecodeChallenge(ReadOnlySpan<byte> frame)
    {
        Expect(frame, ChallengeTag, 1, "CHALLENGE");
        return ReadIdentity(frame[1..], "CHALLENGE");
    }

    public static ReadOnlySpan<byte> DecodeReply(ReadOnlySpan<byte> frame)
    {
        Expect(frame, ReplyTag, 1 + MacSize, "REPLY");
        if (frame.Length != 1 + MacSize)
        {
            throw Bad("the REPLY has the wrong length");
        }

        return frame[1..];
    }

    public static HandshakeVerdict DecodeAck(ReadOnlySpan<byte> frame, out ReadOnlySpan<byte> mac)
    {
        Expect(frame, AckTag, 2 + MacSize, "ACK");
        if (frame.Length != 2 + MacSize || frame[1] > (byte)HandshakeVerdict.Alive)
        {
            throw Bad("the ACK is malformed");
        }

        mac = frame[2..];
        return (HandshakeVerdict)frame[1];
    }

    private static void WriteIdentity(Span<byte> span, HandshakeIdentity identity, byte[] name)
    {
        BinaryPrimitives.WriteUInt64BigEndian(span, identity.Flags);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], identity.Creation);
        identity.Nonce.CopyTo(span[12..]);
        span[12 + NonceSize] = (byte)name.Length;
        name.CopyTo(span[(13 + NonceSize)..]);
    }

    private static HandshakeIdentity ReadIdentity(ReadOnlySpan<byte> span, string what)
    {
        const int fixedSize = 8 + 4 + NonceSize + 1;
        if (span.Length < fixedSize)
        {
            throw Bad($"the {what} is truncated");
        }

        var flags = BinaryPrimitives.ReadUInt64BigEndian(span);
        var creation = BinaryPrimitives.ReadUInt32BigEndian(span[8..]);
        var nonce = span.Slice(12, NonceSize).ToArray();
        int nameLength = span[12 + NonceSize];
        if (span.Length != fixedSize + nameLength)
        {
            throw Bad($"the {what} has a name length that does not match its size");
        }

        string nameText;
        try
        {
            nameText = new UTF8Encoding(false, true).GetString(span[fixedSize..]);
        }
        catch (DecoderFallbackException)
        {
            throw Bad($"the {what} has a node name that is not valid UTF-8");
        }

        if (!NodeName.TryParse(nameText, out var name, out var error))
        {
            throw Bad($"the {what} carries a bad node name: {error}");
        }

        return new HandshakeIdentity(name, creation, flags, nonce);
    }

    private static void Expect(ReadOnlySpan<byte> frame, byte tag, int minLength, string what)
    {
        if (frame.Length == 0 || frame[0] != tag)
        {
            throw Bad($"expected a {what} frame");
        }

        if (frame.Length < minLength)
        {
            throw Bad($"the {what} is truncated");
        }
    }

    private static MeshProtocolException Bad(string message) => new("bad_handshake", "Handshake failed: " + message + ".");
}
