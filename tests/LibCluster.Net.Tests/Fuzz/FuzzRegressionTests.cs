using System.Buffers;
using System.Buffers.Binary;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// Replays the committed corpus (inputs the fuzz campaign found interesting) and the hand-made seeds through every
/// target, in a second or two. Each must obey the rules of <see cref="FuzzTarget"/>: only the protocol's own error, no
/// hang, no allocation over the budget, no stranger authenticated.
/// </summary>
public sealed class FuzzRegressionTests
{
    public static TheoryData<string> Targets => FuzzTargets.Names;

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_EveryStoredInputAndSeed_ObeysTheRules(string name)
    {
        var target = FuzzTargets.Get(name);
        FuzzTargets.WarmUp(target);
        var failures = new List<string>();
        var signatures = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in FuzzTargets.Pool(target))
        {
            try
            {
                signatures.Add(target.Run(input).Signature);
            }
            catch (FuzzFailure failure)
            {
                failures.Add(failure.Message);
            }
        }

        failures.Should().BeEmpty();
        signatures.Should().HaveCountGreaterThan(3, "the corpus and the seeds exercise more than one path");
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Corpus_IsFoundNextToTheTests(string name)
    {
        // A corpus that CI cannot find would make the replay above pass on the seeds alone.
        FuzzCorpus.Load(name).Should().NotBeEmpty($"the corpus of '{name}' is expected in {FuzzCorpus.FolderOf(name)}");
        FuzzCorpus.Load(name).Should().OnlyContain(c => c.File == FuzzCorpus.NameOf(c.Input), "each file is named by the hash of its bytes");
    }

    [Fact]
    public void Acceptor_RecordedHandshakeOfTheTestVector_RefusedAsBadCookieAfterTheChallenge()
    {
        var target = FuzzTargets.Get("acceptor");
        FuzzTargets.WarmUp(target);

        var result = target.Run(AcceptorTarget.RecordedInitiator());

        // A real initiator's HELLO and REPLY, replayed: a fresh CHALLENGE nonce makes the recorded proof worthless.
        result.Signature.Should().StartWith("bad_cookie:").And.EndWith("acceptor wrote 2");
    }

    [Fact]
    public void Initiator_RecordedAnswerOfTheTestVector_RefusedAsBadCookie()
    {
        var target = FuzzTargets.Get("initiator");
        FuzzTargets.WarmUp(target);

        var result = target.Run(InitiatorTarget.RecordedAcceptor());

        // A real acceptor's STATUS, CHALLENGE and ACK, replayed: this dial's fresh HELLO nonce makes the recorded proof worthless.
        result.Signature.Should().StartWith("bad_cookie:").And.EndWith("initiator wrote 2");
    }

    [Theory]
    [InlineData(1025u)]
    [InlineData(0x0010_0000u)]
    [InlineData(0x7FFF_FFFFu)]
    [InlineData(0xFFFF_FFFFu)]
    public void Acceptor_HelloAnnouncingMoreThanTheCap_RefusedFromTheHeaderWithoutAllocatingIt(uint announced)
    {
        var target = FuzzTargets.Get("acceptor");
        FuzzTargets.WarmUp(target);
        var input = new byte[4 + 2048];
        BinaryPrimitives.WriteUInt32BigEndian(input, announced);
        input[4] = HandshakeMessages.HelloTag;

        var result = target.Run(input);

        result.Signature.Should().StartWith("frame_too_large:").And.EndWith("acceptor wrote 0");
        result.Allocated.Should().BeLessThan(16 * 1024, "nothing of the announced length is allocated: the run costs its fixed state and one exception");
    }

    [Theory]
    [InlineData(1024, 1025u)]
    [InlineData(8 * 1024 * 1024, 8u * 1024 * 1024 + 1)]
    [InlineData(8 * 1024 * 1024, 0xFFFF_FFFFu)]
    public void TryReadFrame_LengthAboveTheCap_AllocatesLessThanTheHandshakeCap(int cap, uint announced)
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, announced);
        Refuse(bytes, cap);

        var before = GC.GetAllocatedBytesForCurrentThread();
        Refuse(bytes, cap);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        allocated.Should().BeLessThan(HandshakeMessages.MaxHandshakeFrameBytes, "the refusal costs an exception, not the frame");
    }

    [Fact]
    public void TryReadFrame_WholeFramesInPieces_AllocatesNothing()
    {
        var bytes = Enumerable.Range(0, 50).SelectMany(i => FrameTarget.Frame(new byte[i])).ToArray();
        var warmUp = FrameTarget.Cut(bytes, 3);
        ReadAll(ref warmUp);
        var buffer = FrameTarget.Cut(bytes, 3);
        var before = GC.GetAllocatedBytesForCurrentThread();

        var frames = ReadAll(ref buffer);

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
        frames.Should().Be(50);
    }

    private static int ReadAll(ref ReadOnlySequence<byte> buffer)
    {
        var frames = 0;
        while (FrameCodec.TryReadFrame(ref buffer, 1024, out _))
        {
            frames++;
        }

        return frames;
    }

    private static void Refuse(byte[] bytes, int cap)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        try
        {
            FrameCodec.TryReadFrame(ref buffer, cap, out _);
            throw new InvalidOperationException("The frame was not refused.");
        }
        catch (MeshProtocolException ex) when (ex.Reason == "frame_too_large")
        {
        }
    }
}
