using System.Buffers.Binary;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;

namespace LibCluster.Tests.Strategies.Gossip;

public sealed class GossipPacketTests
{
    private const string Secret = "packet-test-secret-0123456789abcdefghij";
    private const long Stamp = 1_750_000_000_000;
    private static readonly GossipHeartbeat Heartbeat = new(NodeName.Parse("app1@10.0.0.2"), 0xDEADBEEF, 9123);
    private static readonly byte[] Nonce = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

    private static byte[] Plain(GossipHeartbeat? heartbeat = null)
    {
        var buffer = new byte[GossipPacket.MaxLength];
        return buffer[..GossipPacket.WritePlain(buffer, heartbeat ?? Heartbeat)];
    }

    private static byte[] Sealed(GossipKey key, GossipHeartbeat? heartbeat = null, long stamp = Stamp)
    {
        var buffer = new byte[GossipPacket.MaxLength];
        return buffer[..GossipPacket.WriteSealed(buffer, heartbeat ?? Heartbeat, key, stamp, Nonce)];
    }

    [Fact]
    public void WritePlain_Heartbeat_HasTheDocumentedLayout()
    {
        var packet = Plain();

        packet[..4].Should().Equal("LCGH"u8.ToArray());
        packet[4].Should().Be(1, "format version 1");
        packet[5].Should().Be(0, "plain");
        BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(6)).Should().Be(0xDEADBEEF);
        BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(10)).Should().Be(9123);
        packet[12].Should().Be((byte)"app1@10.0.0.2".Length);
        packet[13..].Should().Equal("app1@10.0.0.2"u8.ToArray());
    }

    [Fact]
    public void TryRead_PlainHeartbeat_RoundTrips()
    {
        GossipPacket.TryRead(Plain(), null, out var received).Should().Be(GossipReadStatus.Ok);

        received.Heartbeat.Should().Be(Heartbeat);
        received.Sealed.Should().BeFalse();
    }

    [Fact]
    public void TryRead_SealedHeartbeat_RoundTripsWithStampAndNonce()
    {
        using var key = GossipKey.Derive(Secret);

        GossipPacket.TryRead(Sealed(key), key, out var received).Should().Be(GossipReadStatus.Ok);

        received.Heartbeat.Should().Be(Heartbeat);
        received.Sealed.Should().BeTrue();
        received.TimestampMs.Should().Be(Stamp);
        received.Nonce.Should().Be(new UInt128(0x0102030405060708, 0x090A0B0C00000000));
    }

    [Fact]
    public void WriteSealed_Heartbeat_HidesTheNodeName()
    {
        using var key = GossipKey.Derive(Secret);

        var packet = Sealed(key);

        packet.AsSpan().IndexOf("app1"u8).Should().Be(-1);
        packet.Length.Should().Be(GossipPacket.HeaderLength + GossipPacket.SealedOverhead + 7 + "app1@10.0.0.2".Length);
    }

    [Fact]
    public void TryRead_SealedHeartbeat_AnySingleByteAltered_IsNeverAccepted()
    {
        using var key = GossipKey.Derive(Secret);
        var packet = Sealed(key);

        for (var i = 0; i < packet.Length; i++)
        {
            foreach (var flip in new byte[] { 0x01, 0x80, 0xFF })
            {
                var altered = (byte[])packet.Clone();
                altered[i] ^= flip;

                var status = GossipPacket.TryRead(altered, key, out _);

                status.Should().NotBe(GossipReadStatus.Ok, $"byte {i} was altered");
                if (i >= GossipPacket.HeaderLength + GossipKey.KeyIdLength)
                {
                    status.Should().Be(GossipReadStatus.BadSeal, $"byte {i} is covered by the tag");
                }
            }
        }
    }

    [Fact]
    public void TryRead_SealedWithAnotherSecret_IsAnotherCluster()
    {
        using var ours = GossipKey.Derive(Secret);
        using var theirs = GossipKey.Derive("another-cluster-secret-0123456789abcdef");

        GossipPacket.TryRead(Sealed(theirs), ours, out _).Should().Be(GossipReadStatus.WrongCluster);
    }

    [Fact]
    public void TryRead_ForgedWithOurKeyIdButNoKey_IsABadSeal()
    {
        using var key = GossipKey.Derive(Secret);
        var forged = Sealed(key);
        System.Security.Cryptography.RandomNumberGenerator.Fill(forged.AsSpan(GossipPacket.HeaderLength + GossipKey.KeyIdLength));

        GossipPacket.TryRead(forged, key, out _).Should().Be(GossipReadStatus.BadSeal);
    }

    [Fact]
    public void TryRead_PlainHeartbeatWithASecret_IsAnotherCluster()
    {
        using var key = GossipKey.Derive(Secret);

        GossipPacket.TryRead(Plain(), key, out _).Should().Be(GossipReadStatus.WrongCluster);
    }

    [Fact]
    public void TryRead_SealedHeartbeatWithoutASecret_IsAnotherCluster()
    {
        using var key = GossipKey.Derive(Secret);

        GossipPacket.TryRead(Sealed(key), null, out _).Should().Be(GossipReadStatus.WrongCluster);
    }

    [Fact]
    public void TryRead_EveryTruncation_IsDroppedWithoutThrowing()
    {
        using var key = GossipKey.Derive(Secret);
        var plain = Plain();
        var sealedPacket = Sealed(key);

        for (var length = 0; length < plain.Length; length++)
        {
            GossipPacket.TryRead(plain.AsSpan(0, length), null, out _).Should().Be(GossipReadStatus.Malformed, $"plain cut to {length} bytes");
        }

        for (var length = 0; length < sealedPacket.Length; length++)
        {
            GossipPacket.TryRead(sealedPacket.AsSpan(0, length), key, out _).Should().NotBe(GossipReadStatus.Ok, $"sealed cut to {length} bytes");
        }
    }

    [Fact]
    public void TryRead_TrailingBytes_AreMalformed()
    {
        using var key = GossipKey.Derive(Secret);

        GossipPacket.TryRead([.. Plain(), 0], null, out _).Should().Be(GossipReadStatus.Malformed);
        GossipPacket.TryRead([.. Sealed(key), 0], key, out _).Should().NotBe(GossipReadStatus.Ok);
    }

    [Theory]
    [InlineData(GossipPacket.MaxLength + 1)]
    [InlineData(1500)]
    [InlineData(65507)]
    public void TryRead_Oversized_IsMalformed(int length)
    {
        var packet = new byte[length];
        Plain().CopyTo(packet, 0);

        GossipPacket.TryRead(packet, null, out _).Should().Be(GossipReadStatus.Malformed);
    }

    [Fact]
    public void TryRead_OtherVersion_IsUnsupported()
    {
        var packet = Plain();
        packet[4] = 2;

        GossipPacket.TryRead(packet, null, out _).Should().Be(GossipReadStatus.UnsupportedVersion);
    }

    [Theory]
    [InlineData(5, 2)] // unknown mode
    [InlineData(6, 0)] // creation 0 (first of its four bytes; the others are zeroed below)
    [InlineData(10, 0)] // port 0
    [InlineData(12, 0)] // name length 0
    [InlineData(12, 200)] // name length beyond the packet
    [InlineData(13, (byte)' ')] // a space in the basename
    [InlineData(13, 0xC3)] // not ASCII
    [InlineData(17, (byte)'#')] // '#' instead of '@'
    public void TryRead_BadField_IsMalformed(int offset, byte value)
    {
        var packet = Plain();
        packet[offset] = value;
        if (offset is 6 or 10)
        {
            packet.AsSpan(offset, offset == 6 ? 4 : 2).Clear();
        }

        GossipPacket.TryRead(packet, null, out _).Should().Be(GossipReadStatus.Malformed);
    }

    [Fact]
    public void TryRead_RandomGarbage_NeverThrowsAndIsNeverAccepted()
    {
        using var key = GossipKey.Derive(Secret);
        var random = new Random(20250101);
        var valid = Plain();
        for (var i = 0; i < 20_000; i++)
        {
            var packet = new byte[random.Next(0, 400)];
            random.NextBytes(packet);
            if (i % 2 == 0 && packet.Length >= GossipPacket.HeaderLength)
            {
                // Half of them get past the header, to exercise the body and the seal.
                valid.AsSpan(0, 5).CopyTo(packet);
                packet[5] = (byte)(i % 4 == 0 ? 0 : 1);
            }

            GossipPacket.TryRead(packet, i % 3 == 0 ? null : key, out _).Should().NotBe(GossipReadStatus.Ok);
        }
    }

    [Fact]
    public void WriteSealed_LongestName_FitsInMaxLength()
    {
        using var key = GossipKey.Derive(Secret);
        var name = NodeName.Parse(new string('a', 100) + "@" + string.Join('.', Enumerable.Repeat(new string('h', 30), 5)));
        name.Value.Length.Should().BeLessThanOrEqualTo(NodeName.MaxLength);
        var buffer = new byte[GossipPacket.MaxLength];

        var length = GossipPacket.WriteSealed(buffer, Heartbeat with { Name = name }, key, Stamp, Nonce);

        GossipPacket.TryRead(buffer.AsSpan(0, length), key, out var received).Should().Be(GossipReadStatus.Ok);
        received.Heartbeat.Name.Should().Be(name);
    }

    [Fact]
    public void WritePlain_InvalidHeartbeat_Throws()
    {
        var buffer = new byte[GossipPacket.MaxLength];

        FluentActions.Invoking(() => GossipPacket.WritePlain(buffer, Heartbeat with { Port = 0 })).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => GossipPacket.WritePlain(buffer, Heartbeat with { Creation = 0 })).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => GossipPacket.WritePlain(buffer, Heartbeat with { Name = default })).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Derive_SameSecret_GivesTheSameKeyIdAndOpensEachOthersPackets()
    {
        using var first = GossipKey.Derive(Secret);
        using var second = GossipKey.Derive(Secret);

        first.KeyId.ToArray().Should().Equal(second.KeyId.ToArray());
        GossipPacket.TryRead(Sealed(first), second, out _).Should().Be(GossipReadStatus.Ok);
    }
}
