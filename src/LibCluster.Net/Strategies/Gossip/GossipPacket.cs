using System.Buffers.Binary;
using System.Text;
using LibCluster.Nodes;

namespace LibCluster.Strategies.Gossip;

/// <summary>What a heartbeat announces: a node, its incarnation and the port its listener is reached at.</summary>
internal readonly record struct GossipHeartbeat(NodeName Name, uint Creation, int Port);

/// <summary>The outcome of reading a packet; anything but <see cref="Ok"/> drops it.</summary>
internal enum GossipReadStatus
{
    Ok,

    /// <summary>Wrong size, magic, mode or field.</summary>
    Malformed,

    /// <summary>A format version this node does not speak.</summary>
    UnsupportedVersion,

    /// <summary>Well-formed, but not of this cluster: plain while this node has a secret, sealed while it has none, or sealed under another key.</summary>
    WrongCluster,

    /// <summary>Sealed under this cluster's key id, but the authentication tag does not match: forged or altered.</summary>
    BadSeal,
}

/// <summary>A heartbeat read from a packet; <see cref="Sealed"/> ones carry a time stamp and a nonce for replay checks.</summary>
internal readonly record struct GossipReceived(GossipHeartbeat Heartbeat, bool Sealed, long TimestampMs, UInt128 Nonce);

/// <summary>
/// The gossip heartbeat, byte by byte (all integers big-endian):
/// <code>
/// header   magic "LCGH" (4) | version = 1 (1) | mode (1): 0 plain, 1 sealed
/// body     creation u32 (4, non-zero) | port u16 (2, non-zero) | name length u8 (1, 1-255) | name (ASCII, a valid node name)
/// plain    header | body
/// sealed   header | key id (8) | nonce (12) | AES-256-GCM(timestamp i64 unix ms (8) | body) | tag (16)
///          associated data: header | key id
/// </code>
/// A packet must be exactly as long as its fields say: trailing bytes make it malformed. Reading never throws.
/// </summary>
internal static class GossipPacket
{
    public const byte Version = 1;
    public const int HeaderLength = 6;
    public const int MaxNameLength = NodeName.MaxLength;
    public const int MinBodyLength = BodyFixedLength + 1;
    public const int MaxBodyLength = BodyFixedLength + MaxNameLength;
    public const int SealedOverhead = GossipKey.KeyIdLength + GossipKey.NonceLength + TimestampLength + GossipKey.TagLength;
    public const int MinPlainLength = HeaderLength + MinBodyLength;
    public const int MaxPlainLength = HeaderLength + MaxBodyLength;
    public const int MinSealedLength = HeaderLength + SealedOverhead + MinBodyLength;
    public const int MaxSealedLength = HeaderLength + SealedOverhead + MaxBodyLength;

    /// <summary>No valid heartbeat is longer.</summary>
    public const int MaxLength = MaxSealedLength;

    private const byte ModePlain = 0;
    private const byte ModeSealed = 1;
    private const int BodyFixedLength = 4 + 2 + 1;
    private const int TimestampLength = 8;
    private const int AssociatedLength = HeaderLength + GossipKey.KeyIdLength;

    private static ReadOnlySpan<byte> Magic => "LCGH"u8;

    /// <summary>Writes a plain heartbeat; returns its length.</summary>
    public static int WritePlain(Span<byte> destination, GossipHeartbeat heartbeat)
    {
        WriteHeader(destination, ModePlain);
        return HeaderLength + WriteBody(destination[HeaderLength..], heartbeat);
    }

    /// <summary>Writes a heartbeat sealed with <paramref name="key"/>, stamped <paramref name="timestampMs"/>, under a fresh <paramref name="nonce"/>; returns its length.</summary>
    public static int WriteSealed(Span<byte> destination, GossipHeartbeat heartbeat, GossipKey key, long timestampMs, ReadOnlySpan<byte> nonce)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (nonce.Length != GossipKey.NonceLength)
        {
            throw new ArgumentException($"A nonce has {GossipKey.NonceLength} bytes.", nameof(nonce));
        }

        WriteHeader(destination, ModeSealed);
        key.KeyId.CopyTo(destination[HeaderLength..]);
        nonce.CopyTo(destination[AssociatedLength..]);

        Span<byte> plaintext = stackalloc byte[TimestampLength + MaxBodyLength];
        BinaryPrimitives.WriteInt64BigEndian(plaintext, timestampMs);
        var plainLength = TimestampLength + WriteBody(plaintext[TimestampLength..], heartbeat);

        var cipherStart = AssociatedLength + GossipKey.NonceLength;
        var ciphertext = destination.Slice(cipherStart, plainLength);
        var tag = destination.Slice(cipherStart + plainLength, GossipKey.TagLength);
        key.Seal(nonce, plaintext[..plainLength], ciphertext, tag, destination[..AssociatedLength]);
        plaintext.Clear();
        return cipherStart + plainLength + GossipKey.TagLength;
    }

    /// <summary>
    /// Reads a packet. With <paramref name="key"/> only sealed heartbeats under it are accepted; without, only plain ones.
    /// Never throws, whatever the bytes.
    /// </summary>
    public static GossipReadStatus TryRead(ReadOnlySpan<byte> packet, GossipKey? key, out GossipReceived received)
    {
        received = default;
        if (packet.Length < HeaderLength || packet.Length > MaxLength || !packet[..Magic.Length].SequenceEqual(Magic))
        {
            return GossipReadStatus.Malformed;
        }

        if (packet[4] != Version)
        {
            return GossipReadStatus.UnsupportedVersion;
        }

        switch (packet[5])
        {
            case ModePlain:
                if (packet.Length > MaxPlainLength || !TryReadBody(packet[HeaderLength..], out var plain))
                {
                    return GossipReadStatus.Malformed;
                }

                if (key is not null)
                {
                    return GossipReadStatus.WrongCluster;
                }

                received = new GossipReceived(plain, Sealed: false, 0, default);
                return GossipReadStatus.Ok;

            case ModeSealed:
                return ReadSealed(packet, key, out received);

            default:
                return GossipReadStatus.Malformed;
        }
    }

    private static GossipReadStatus ReadSealed(ReadOnlySpan<byte> packet, GossipKey? key, out GossipReceived received)
    {
        received = default;
        if (packet.Length < MinSealedLength)
        {
            return GossipReadStatus.Malformed;
        }

        if (key is null || !key.HasKeyId(packet.Slice(HeaderLength, GossipKey.KeyIdLength)))
        {
            return GossipReadStatus.WrongCluster;
        }

        var nonce = packet.Slice(AssociatedLength, GossipKey.NonceLength);
        var cipherStart = AssociatedLength + GossipKey.NonceLength;
        var cipherLength = packet.Length - cipherStart - GossipKey.TagLength;
        Span<byte> plaintext = stackalloc byte[TimestampLength + MaxBodyLength];
        plaintext = plaintext[..cipherLength];
        if (!key.TryOpen(nonce, packet.Slice(cipherStart, cipherLength), packet[^GossipKey.TagLength..], plaintext, packet[..AssociatedLength]))
        {
            return GossipReadStatus.BadSeal;
        }

        var timestamp = BinaryPrimitives.ReadInt64BigEndian(plaintext);
        if (!TryReadBody(plaintext[TimestampLength..], out var heartbeat))
        {
            return GossipReadStatus.Malformed;
        }

        Span<byte> nonceBytes = stackalloc byte[16];
        nonceBytes.Clear();
        nonce.CopyTo(nonceBytes);
        received = new GossipReceived(heartbeat, Sealed: true, timestamp, BinaryPrimitives.ReadUInt128BigEndian(nonceBytes));
        return GossipReadStatus.Ok;
    }

    private static void WriteHeader(Span<byte> destination, byte mode)
    {
        Magic.CopyTo(destination);
        destination[4] = Version;
        destination[5] = mode;
    }

    private static int WriteBody(Span<byte> destination, GossipHeartbeat heartbeat)
    {
        if (heartbeat.Name.IsEmpty)
        {
            throw new ArgumentException("A heartbeat needs a node name.", nameof(heartbeat));
        }

        if (heartbeat.Creation == 0)
        {
            throw new ArgumentException("A heartbeat needs a non-zero creation.", nameof(heartbeat));
        }

        if (heartbeat.Port is < 1 or > 65535)
        {
            throw new ArgumentException($"A heartbeat needs a port from 1 to 65535 (got {heartbeat.Port}).", nameof(heartbeat));
        }

        // A valid node name is ASCII and at most 255 bytes: NodeName checks both.
        var name = heartbeat.Name.Value;
        BinaryPrimitives.WriteUInt32BigEndian(destination, heartbeat.Creation);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)heartbeat.Port);
        destination[6] = (byte)name.Length;
        Encoding.ASCII.GetBytes(name, destination[BodyFixedLength..]);
        return BodyFixedLength + name.Length;
    }

    private static bool TryReadBody(ReadOnlySpan<byte> body, out GossipHeartbeat heartbeat)
    {
        heartbeat = default;
        if (body.Length < MinBodyLength || body.Length > MaxBodyLength)
        {
            return false;
        }

        var creation = BinaryPrimitives.ReadUInt32BigEndian(body);
        var port = BinaryPrimitives.ReadUInt16BigEndian(body[4..]);
        var nameLength = body[6];
        if (creation == 0 || port == 0 || nameLength == 0 || body.Length != BodyFixedLength + nameLength)
        {
            return false;
        }

        var nameBytes = body[BodyFixedLength..];
        if (!Ascii.IsValid(nameBytes) || !NodeName.TryParse(Encoding.ASCII.GetString(nameBytes), out var name))
        {
            return false;
        }

        heartbeat = new GossipHeartbeat(name, creation, port);
        return true;
    }
}
