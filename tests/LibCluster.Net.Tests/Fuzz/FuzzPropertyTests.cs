using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using CsCheck;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// Property-based checks (CsCheck) of the frame parser, the data-frame decoder, both sides of the handshake and the
/// gossip reader, on generated hostile input: random bytes, mutations of the seeds and corpus, and well-formed messages
/// carrying proofs nobody without the cookie could have made. A fixed number of samples keeps them at a few seconds in CI;
/// a failure prints the seed that reproduces it (pass it as <c>seed:</c> to <c>Sample</c>).
/// </summary>
public sealed class FuzzPropertyTests
{
    private const int Samples = 3000;

    public static TheoryData<string> Targets => FuzzTargets.Names;

    [Theory]
    [MemberData(nameof(Targets))]
    public void Parse_RandomBytes_ObeysTheRules(string name)
    {
        var target = FuzzTargets.Get(name);
        FuzzTargets.WarmUp(target);

        Gen.Byte.Array[0, 600].Sample(input => target.Run(input), iter: Samples, print: FuzzTarget.Hex);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Parse_MutatedSeedsAndCorpus_ObeysTheRules(string name)
    {
        var target = FuzzTargets.Get(name);
        FuzzTargets.WarmUp(target);
        var pool = FuzzTargets.Pool(target);
        var mutated = Gen.Select(Gen.Int[0, pool.Count - 1], Gen.Int[0, pool.Count - 1], Gen.Int, (i, j, seed) =>
            Mutator.Mutate(pool[i], pool[j], new Random(seed), target.MaxInputBytes));

        mutated.Sample(input => target.Run(input), iter: Samples, print: FuzzTarget.Hex);
    }

    [Fact]
    public void TryReadFrame_AnyLengthAboveTheCapInAnyPieces_RefusedFromTheHeaderAlone()
    {
        var cases = Gen.Select(Gen.Int[0, 1 << 24], Gen.UInt, Gen.Byte.Array[0, 64], Gen.ULong, (cap, length, tail, cuts) => (cap, length, tail, cuts))
            .Where(c => c.length > (uint)c.cap);

        cases.Sample(c =>
        {
            var bytes = new byte[4 + c.tail.Length];
            BinaryPrimitives.WriteUInt32BigEndian(bytes, c.length);
            c.tail.CopyTo(bytes, 4);
            var buffer = FrameTarget.Cut(bytes, c.cuts);
            try
            {
                FrameCodec.TryReadFrame(ref buffer, c.cap, out _);
            }
            catch (MeshProtocolException ex) when (ex.Reason == "frame_too_large")
            {
                return true;
            }

            return false;
        }, iter: Samples);
    }

    [Fact]
    public void AcceptAsync_WellFormedHelloWithAnyProof_NeverAuthenticatesAndRefusesAsBadCookie()
    {
        var target = FuzzTargets.Get("acceptor");
        FuzzTargets.WarmUp(target);
        var inputs = Gen.Select(NodeNames, Gen.UInt, Gen.ULong, Gen.Byte.Array[HandshakeMessages.NonceSize], Gen.Byte.Array[HandshakeMessages.MacSize], (name, creation, flags, nonce, mac) =>
            (byte[])[.. FrameTarget.Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(name, creation, flags, nonce))), .. FrameTarget.Frame(HandshakeMessages.EncodeReply(mac))]);

        // The generated names never equal the acceptor's own (b@h), so every one reaches the proof, and fails it.
        inputs.Sample(input => target.Run(input).Signature.StartsWith("bad_cookie:", StringComparison.Ordinal), iter: Samples, print: FuzzTarget.Hex);
    }

    [Fact]
    public void InitiateAsync_WellFormedAnswerWithAnyProof_NeverAuthenticatesAndRefusesAsBadCookie()
    {
        var target = FuzzTargets.Get("initiator");
        FuzzTargets.WarmUp(target);
        var inputs = Gen.Select(Gen.UInt, Gen.ULong, Gen.Byte.Array[HandshakeMessages.NonceSize], Gen.Int[0, 2], Gen.Byte.Array[HandshakeMessages.MacSize], (creation, flags, nonce, verdict, mac) =>
            (byte[])[
                .. FrameTarget.Frame(HandshakeMessages.EncodeStatus(HandshakeStatus.Ok)),
                .. FrameTarget.Frame(HandshakeMessages.EncodeChallenge(new HandshakeIdentity(HandshakeTarget.Acceptor, creation, flags, nonce))),
                .. FrameTarget.Frame(HandshakeMessages.EncodeAck((HandshakeVerdict)verdict, mac)),
            ]);

        inputs.Sample(input => target.Run(input).Signature.StartsWith("bad_cookie:", StringComparison.Ordinal), iter: Samples, print: FuzzTarget.Hex);
    }

    [Fact]
    public void Decode_AnyMessageTheWriterProduces_ComesBackUnchanged()
    {
        var messages = Gen.Select(Gen.ULong, Gen.Char['a', 'z'].Array[1, 255].Select(c => new string(c)), Gen.Byte.Array[0, 300], Gen.Int[0, 3], (id, mailbox, payload, status) => (id, mailbox, payload, status));

        messages.Sample(m =>
        {
            var writer = new ArrayBufferWriter<byte>();
            MessageFrames.WriteMessage(writer, m.id, m.mailbox, m.payload);
            MessageFrames.WriteReply(writer, m.id | 1, (ReplyStatus)m.status, m.payload);
            var buffer = FrameTarget.Cut(writer.WrittenSpan.ToArray(), m.id);

            FrameCodec.TryReadFrame(ref buffer, int.MaxValue, out var first).Should().BeTrue();
            var message = MessageFrames.Decode(first);
            message.Type.Should().Be(m.id == 0 ? FrameType.Send : FrameType.Request);
            message.Id.Should().Be(m.id);
            Encoding.UTF8.GetString(message.Mailbox.ToArray()).Should().Be(m.mailbox);
            message.Payload.ToArray().Should().Equal(m.payload);

            FrameCodec.TryReadFrame(ref buffer, int.MaxValue, out var second).Should().BeTrue();
            var reply = MessageFrames.Decode(second);
            reply.Type.Should().Be(FrameType.Reply);
            reply.Id.Should().Be(m.id | 1);
            reply.Status.Should().Be((ReplyStatus)m.status);
            reply.Payload.ToArray().Should().Equal(m.payload);
            buffer.Length.Should().Be(0);
        }, iter: 1000);
    }

    /// <summary>Valid node names of every shape the name rules allow: DNS hosts, IPv4 and IPv6 literals.</summary>
    private static readonly Gen<NodeName> NodeNames = Gen.Select(
        Gen.Char["abcxyzABCXYZ0189_-."].Array[1, 40].Select(c => new string(c)),
        Gen.Int[0, 2],
        Gen.Char["abcxyz0189-"].Array[1, 40].Select(c => new string(c)),
        Gen.Byte.Array[4],
        (basename, kind, label, octets) => kind switch
        {
            0 => $"{basename}@{label.Trim('-')}x",
            1 => $"{basename}@{octets[0]}.{octets[1]}.{octets[2]}.{octets[3]}",
            _ => $"{basename}@2001:db8::{octets[0]:x}",
        })
        .Where(text => NodeName.TryParse(text, out _))
        .Select(NodeName.Parse);
}
