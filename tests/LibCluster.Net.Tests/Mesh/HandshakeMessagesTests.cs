using System.Buffers.Binary;
using System.Text;
using LibCluster.Mesh;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;

namespace LibCluster.Tests.Mesh;

public sealed class HandshakeMessagesTests
{
    private static readonly NodeName Alice = NodeName.Parse("alice@10.0.0.1");

    [Fact]
    public void EncodeHello_DecodeHello_RoundTripsTheIdentity()
    {
        var identity = new HandshakeIdentity(Alice, 0xDEADBEEF, 0x0102030405060708, Nonce(1));

        var decoded = HandshakeMessages.DecodeHello(HandshakeMessages.EncodeHello(identity), out var version);

        version.Should().Be(HandshakeMessages.ProtocolVersion);
        decoded.Name.Should().Be(Alice);
        decoded.Creation.Should().Be(0xDEADBEEF);
        decoded.Flags.Should().Be(0x0102030405060708);
        decoded.Nonce.Should().Equal(identity.Nonce);
    }

    [Fact]
    public void EncodeHello_StartsWithTagMagicAndVersion()
    {
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, Nonce(2)));

        hello[0].Should().Be((byte)'H');
        hello[1..5].Should().Equal("LCNM"u8.ToArray());
        BinaryPrimitives.ReadUInt16BigEndian(hello.AsSpan(5)).Should().Be(1);
    }

    [Fact]
    public void EncodeChallenge_DecodeChallenge_RoundTripsTheIdentity()
    {
        var identity = new HandshakeIdentity(Alice, 42, 7, Nonce(3));

        var decoded = HandshakeMessages.DecodeChallenge(HandshakeMessages.EncodeChallenge(identity));

        decoded.Name.Should().Be(Alice);
        decoded.Creation.Should().Be(42);
        decoded.Flags.Should().Be(7);
        decoded.Nonce.Should().Equal(identity.Nonce);
    }

    [Fact]
    public void EncodeHello_LongestName_FitsUnderThePreAuthenticationCap()
    {
        var longest = NodeName.Parse(new string('n', NodeName.MaxLength - 2) + "@h");

        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(longest, 1, ulong.MaxValue, Nonce(4)));
        var challenge = HandshakeMessages.EncodeChallenge(new HandshakeIdentity(longest, 1, ulong.MaxValue, Nonce(4)));

        hello.Length.Should().BeLessThanOrEqualTo(HandshakeMessages.MaxHandshakeFrameBytes);
        challenge.Length.Should().BeLessThanOrEqualTo(HandshakeMessages.MaxHandshakeFrameBytes);
        HandshakeMessages.DecodeHello(hello, out _).Name.Should().Be(longest);
    }

    [Fact]
    public void DecodeHello_OtherVersion_ReportsTheVersionWithoutReadingTheRest()
    {
        byte[] hello = [(byte)'H', 0x4C, 0x43, 0x4E, 0x4D, 0x00, 0x02, 0xFF];

        HandshakeMessages.DecodeHello(hello, out var version);

        version.Should().Be(2);
    }

    public static TheoryData<string, byte[]> MalformedHellos()
    {
        var good = HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, Nonce(5)));
        var nameLengthAt = 1 + 4 + 2 + 8 + 4 + HandshakeMessages.NonceSize;
        var longer = (byte[])good.Clone();
        longer[nameLengthAt]++;
        var shorter = (byte[])good.Clone();
        shorter[nameLengthAt]--;
        var badUtf8 = (byte[])good.Clone();
        badUtf8[^1] = 0xFF;
        var noAt = HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, Nonce(5)));
        noAt[nameLengthAt + 1 + 5] = (byte)'_'; // "alice@..." becomes "alice_..."
        var wrongMagic = (byte[])good.Clone();
        wrongMagic[1] = (byte)'X';

        return new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "wrong tag", [(byte)'C', .. good[1..]] },
            { "only the tag", [(byte)'H'] },
            { "no version", good[..5] },
            { "wrong magic", wrongMagic },
            { "truncated identity", good[..20] },
            { "no name", good[..(nameLengthAt + 1)] },
            { "name length past the end", longer },
            { "name length short of the end", shorter },
            { "trailing byte", [.. good, 0] },
            { "name not UTF-8", badUtf8 },
            { "name without @", noAt },
        };
    }

    [Theory]
    [MemberData(nameof(MalformedHellos))]
    public void DecodeHello_Malformed_ThrowsBadHandshake(string what, byte[] frame)
    {
        var ex = FluentActions.Invoking(() => HandshakeMessages.DecodeHello(frame, out _)).Should().ThrowExactly<MeshProtocolException>(what).Which;

        ex.Reason.Should().Be("bad_handshake");
    }

    [Theory]
    [InlineData("")]
    [InlineData("53")]
    [InlineData("5300FF")]
    [InlineData("5303")]
    [InlineData("4100")]
    public void DecodeStatus_Malformed_ThrowsBadHandshake(string hex)
    {
        FluentActions.Invoking(() => HandshakeMessages.DecodeStatus(Convert.FromHexString(hex)))
            .Should().ThrowExactly<MeshProtocolException>().Which.Reason.Should().Be("bad_handshake");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void DecodeStatus_KnownStatus_IsReturned(byte status)
    {
        HandshakeMessages.DecodeStatus(HandshakeMessages.EncodeStatus((HandshakeStatus)status)).Should().Be((HandshakeStatus)status);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(31)]
    [InlineData(33)]
    [InlineData(100)]
    public void DecodeReply_WrongLength_ThrowsBadHandshake(int macLength)
    {
        byte[] frame = [(byte)'R', .. new byte[macLength]];

        FluentActions.Invoking(() => HandshakeMessages.DecodeReply(frame).ToArray())
            .Should().ThrowExactly<MeshProtocolException>().Which.Reason.Should().Be("bad_handshake");
    }

    [Fact]
    public void DecodeAck_UnknownVerdict_ThrowsBadHandshake()
    {
        var ack = HandshakeMessages.EncodeAck(HandshakeVerdict.Ok, new byte[32]);
        ack[1] = 3;

        FluentActions.Invoking(() => HandshakeMessages.DecodeAck(ack, out _))
            .Should().ThrowExactly<MeshProtocolException>().Which.Reason.Should().Be("bad_handshake");
    }

    [Fact]
    public void EncodeAck_DecodeAck_RoundTripsVerdictAndMac()
    {
        var mac = Nonce(6);

        var ack = HandshakeMessages.EncodeAck(HandshakeVerdict.Alive, mac);
        var verdict = HandshakeMessages.DecodeAck(ack, out var decodedMac);

        verdict.Should().Be(HandshakeVerdict.Alive);
        decodedMac.ToArray().Should().Equal(mac);
    }

    [Fact]
    public void DecodeChallenge_NameClaimingAnotherAlphabet_ThrowsBadHandshake()
    {
        var challenge = HandshakeMessages.EncodeChallenge(new HandshakeIdentity(Alice, 1, 0, Nonce(7)));
        var name = Encoding.UTF8.GetBytes("alice@10.0.0.1");
        challenge.AsSpan(challenge.Length - name.Length).Fill((byte)' ');

        FluentActions.Invoking(() => HandshakeMessages.DecodeChallenge(challenge))
            .Should().ThrowExactly<MeshProtocolException>().Which.Reason.Should().Be("bad_handshake");
    }

    private static byte[] Nonce(int seed)
    {
        var nonce = new byte[HandshakeMessages.NonceSize];
        new Random(seed).NextBytes(nonce);
        return nonce;
    }
}
