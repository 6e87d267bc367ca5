using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Security.Cryptography;
using System.Text;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;

namespace LibCluster.Tests.Mesh;

public sealed class HandshakeProtocolTests
{
    private const string Cookie = "the-shared-cookie-of-the-test-cluster-0123456789";
    private const string OtherCookie = "a-different-cookie-that-is-long-enough-9876543210";
    private const uint AliceCreation = 0xA11CE;
    private const uint BobCreation = 0xB0B;
    private const ulong AliceFlags = 0x0000_0000_0000_0011;
    private const ulong BobFlags = 0x8000_0000_0000_0022;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly NodeName Alice = NodeName.Parse("alice@10.0.0.1");
    private static readonly NodeName Bob = NodeName.Parse("bob@10.0.0.2");
    private static readonly NodeName Carol = NodeName.Parse("carol@10.0.0.3");

    // The MAC labels of docs/protocol.md; the fake peers below use them, and the fakes' positive controls prove they match.
    private static readonly byte[] InitiatorLabel = "LibCluster.Net initiator"u8.ToArray();
    private static readonly byte[] AcceptorLabel = "LibCluster.Net acceptor"u8.ToArray();

    private static readonly int HelloFrameLength = 4 + HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 0, 0, new byte[32])).Length;
    private static readonly int ChallengeFrameLength = 4 + HandshakeMessages.EncodeChallenge(new HandshakeIdentity(Bob, 0, 0, new byte[32])).Length;
    private const int StatusFrameLength = 4 + 2;
    private const int ReplyFrameLength = 4 + 1 + 32;
    private const int AckFrameLength = 4 + 2 + 32;

    [Fact]
    public async Task Handshake_SameCookie_BothSidesCompleteWithEachOthersIdentity()
    {
        await using var link = TappedLink.Create();
        var decided = new List<HandshakeOutcome>();

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, outcome =>
        {
            decided.Add(outcome);
            return HandshakeVerdict.Ok;
        });
        var initiator = Initiate(InitiatorProtocol(), link.Initiator, Bob);

        var dialled = await initiator.WaitAsync(Timeout);
        var accepted = await acceptor.WaitAsync(Timeout);

        dialled.Should().Be(new HandshakeOutcome(Bob, BobCreation, BobFlags, HandshakeVerdict.Ok));
        accepted.Should().Be(new HandshakeOutcome(Alice, AliceCreation, AliceFlags, HandshakeVerdict.Ok));
        decided.Should().Equal(new HandshakeOutcome(Alice, AliceCreation, AliceFlags, HandshakeVerdict.Ok));
        link.ToAcceptor.Captured().Length.Should().Be(HelloFrameLength + ReplyFrameLength);
        link.ToInitiator.Captured().Length.Should().Be(StatusFrameLength + ChallengeFrameLength + AckFrameLength);
    }

    [Fact]
    public async Task Handshake_NoExpectedPeer_AcceptsWhoeverAnswers()
    {
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        var initiator = Initiate(InitiatorProtocol(), left, default);

        (await initiator.WaitAsync(Timeout)).Peer.Should().Be(Bob);
        (await acceptor.WaitAsync(Timeout)).Peer.Should().Be(Alice);
    }

    [Theory]
    [InlineData((byte)HandshakeVerdict.Ok)]
    [InlineData((byte)HandshakeVerdict.Nok)]
    [InlineData((byte)HandshakeVerdict.Alive)]
    public async Task Handshake_DecideReturnsVerdict_BothSidesSeeThatVerdict(byte verdict)
    {
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = Accept(AcceptorProtocol(), right, _ => (HandshakeVerdict)verdict);
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        (await initiator.WaitAsync(Timeout)).Verdict.Should().Be((HandshakeVerdict)verdict);
        (await acceptor.WaitAsync(Timeout)).Verdict.Should().Be((HandshakeVerdict)verdict);
    }

    [Fact]
    public async Task AcceptAsync_InitiatorHasWrongCookie_ThrowsBadCookieWithoutDecidingOrAnswering()
    {
        await using var link = TappedLink.Create();
        var decideCalls = 0;

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ =>
        {
            Interlocked.Increment(ref decideCalls);
            return HandshakeVerdict.Ok;
        });
        var initiator = Initiate(InitiatorProtocol(cookie: OtherCookie), link.Initiator, Bob);

        (await ShouldFail(acceptor)).Should().Be("bad_cookie");
        (await ShouldFail(initiator)).Should().Be("rejected", "the acceptor just closes and tells the impostor nothing more");
        decideCalls.Should().Be(0);
        link.ToInitiator.Captured().Length.Should().Be(StatusFrameLength + ChallengeFrameLength, "no ACK and no error frame follows a failed proof");
    }

    /// <summary>
    /// Cookie rotation: an acceptor that also accepts the cookie being rotated in (or out) lets a dialler with either
    /// one in, and answers under the dialler's own cookie, which is the only one the dialler can check.
    /// </summary>
    [Theory]
    [InlineData(Cookie, OtherCookie, OtherCookie)]
    [InlineData(OtherCookie, Cookie, OtherCookie)]
    [InlineData(Cookie, OtherCookie, Cookie)]
    public async Task Handshake_InitiatorCookieAmongTheAcceptedOnes_BothSidesComplete(string acceptorCookie, string acceptedToo, string initiatorCookie)
    {
        await using var link = TappedLink.Create();
        var acceptorProtocol = new HandshakeProtocol(acceptorCookie, Bob, BobCreation, BobFlags, acceptedCookies: [acceptedToo]);

        var acceptor = Accept(acceptorProtocol, link.Acceptor, _ => HandshakeVerdict.Ok);
        var initiator = Initiate(InitiatorProtocol(cookie: initiatorCookie), link.Initiator, Bob);

        (await initiator.WaitAsync(Timeout)).Peer.Should().Be(Bob);
        (await acceptor.WaitAsync(Timeout)).Peer.Should().Be(Alice);
    }

    [Fact]
    public async Task AcceptAsync_InitiatorCookieNotAmongTheAccepted_ThrowsBadCookie()
    {
        const string Third = "a-third-cookie-nobody-in-this-cluster-accepts-000";
        await using var link = TappedLink.Create();
        var acceptorProtocol = new HandshakeProtocol(Cookie, Bob, BobCreation, BobFlags, acceptedCookies: [OtherCookie]);

        var acceptor = Accept(acceptorProtocol, link.Acceptor, _ => HandshakeVerdict.Ok);
        var initiator = Initiate(InitiatorProtocol(cookie: Third), link.Initiator, Bob);

        (await ShouldFail(acceptor)).Should().Be("bad_cookie");
        (await ShouldFail(initiator)).Should().Be("rejected");
    }

    [Fact]
    public async Task InitiateAsync_AcceptedCookiesAreNotUsedToDial_AcceptorWithOnlyTheOldCookieRejects()
    {
        // A node that accepts the old cookie but dials with the new one is refused by a node that knows only the old:
        // the rotation's order (accept everywhere first, then switch) matters, and is what docs/security.md says.
        await using var link = TappedLink.Create();
        var initiatorProtocol = new HandshakeProtocol(OtherCookie, Alice, AliceCreation, AliceFlags, acceptedCookies: [Cookie]);

        var acceptor = Accept(AcceptorProtocol(cookie: Cookie), link.Acceptor, _ => HandshakeVerdict.Ok);
        var initiator = Initiate(initiatorProtocol, link.Initiator, Bob);

        (await ShouldFail(acceptor)).Should().Be("bad_cookie");
        (await ShouldFail(initiator)).Should().Be("rejected");
    }

    [Fact]
    public async Task InitiateAsync_FakeAcceptorWithRightCookie_Completes()
    {
        // Positive control for the hand-written acceptor the next tests use.
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = FakeAcceptAsync(right, Cookie, Bob, HandshakeVerdict.Alive);
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        (await initiator.WaitAsync(Timeout)).Should().Be(new HandshakeOutcome(Bob, BobCreation, BobFlags, HandshakeVerdict.Alive));
        await acceptor.WaitAsync(Timeout);
    }

    [Fact]
    public async Task InitiateAsync_AcceptorProvesWithWrongCookie_ThrowsBadCookie()
    {
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = FakeAcceptAsync(right, OtherCookie, Bob, HandshakeVerdict.Ok);
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        (await ShouldFail(initiator)).Should().Be("bad_cookie");
        await acceptor.WaitAsync(Timeout);
    }

    [Theory]
    [InlineData((byte)HandshakeVerdict.Ok, (byte)HandshakeVerdict.Nok)]
    [InlineData((byte)HandshakeVerdict.Nok, (byte)HandshakeVerdict.Ok)]
    [InlineData((byte)HandshakeVerdict.Alive, (byte)HandshakeVerdict.Ok)]
    public async Task InitiateAsync_VerdictChangedAfterItWasProven_ThrowsBadCookie(byte proven, byte sent)
    {
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = FakeAcceptAsync(right, Cookie, Bob, (HandshakeVerdict)proven, (HandshakeVerdict)sent);
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        (await ShouldFail(initiator)).Should().Be("bad_cookie");
        await acceptor.WaitAsync(Timeout);
    }

    [Fact]
    public async Task AcceptAsync_FakeInitiatorWithRightCookie_Completes()
    {
        // Positive control for the hand-written initiator.
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Nok);
        var initiator = FakeInitiateAsync(left, Cookie, Carol);

        (await initiator.WaitAsync(Timeout)).Should().Be(HandshakeVerdict.Nok);
        (await acceptor.WaitAsync(Timeout)).Peer.Should().Be(Carol);
    }

    [Fact]
    public async Task AcceptAsync_ReplayedInitiatorBytes_ThrowsBadCookie()
    {
        byte[] recorded;
        await using (var link = TappedLink.Create())
        {
            var accepted = Accept(AcceptorProtocol(), link.Acceptor, _ => HandshakeVerdict.Ok);
            await Initiate(InitiatorProtocol(), link.Initiator, Bob).WaitAsync(Timeout);
            await accepted.WaitAsync(Timeout);
            recorded = link.ToAcceptor.Captured();
        }

        recorded.Length.Should().Be(HelloFrameLength + ReplyFrameLength);
        var (left, right) = DuplexPipe.CreatePair();
        var decideCalls = 0;

        // A fresh acceptor, same node, same cookie: it picks a new nonce, so the recorded proof no longer fits.
        var acceptor = Accept(AcceptorProtocol(), right, _ =>
        {
            Interlocked.Increment(ref decideCalls);
            return HandshakeVerdict.Ok;
        });
        await left.Output.WriteAsync(recorded).AsTask().WaitAsync(Timeout);

        (await ShouldFail(acceptor)).Should().Be("bad_cookie");
        decideCalls.Should().Be(0);
    }

    [Fact]
    public async Task InitiateAsync_ReplayedAcceptorBytes_ThrowsBadCookie()
    {
        byte[] recorded;
        await using (var link = TappedLink.Create())
        {
            var accepted = Accept(AcceptorProtocol(), link.Acceptor, _ => HandshakeVerdict.Ok);
            await Initiate(InitiatorProtocol(), link.Initiator, Bob).WaitAsync(Timeout);
            await accepted.WaitAsync(Timeout);
            recorded = link.ToInitiator.Captured();
        }

        var (left, right) = DuplexPipe.CreatePair();
        await right.Output.WriteAsync(recorded).AsTask().WaitAsync(Timeout);

        (await ShouldFail(Initiate(InitiatorProtocol(), left, Bob))).Should().Be("bad_cookie");
    }

    public static TheoryData<string, byte[], string> GarbageInsteadOfHello()
    {
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32]));
        return new TheoryData<string, byte[], string>
        {
            { "an HTTP request", Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: node\r\n\r\n"), "frame_too_large" },
            { "a TLS ClientHello", Convert.FromHexString("160301020001000200FC0303" + new string('A', 64)), "frame_too_large" },
            { "an SSH banner", Encoding.ASCII.GetBytes("SSH-2.0-OpenSSH_9.6\r\n"), "frame_too_large" },
            { "an empty frame", [0, 0, 0, 0], "bad_handshake" },
            { "a framed zero byte", [0, 0, 0, 1, 0], "bad_handshake" },
            { "a STATUS instead of a HELLO", FrameCodecTests.Frame([(byte)'S', 0]), "bad_handshake" },
            { "a REPLY instead of a HELLO", FrameCodecTests.Frame([(byte)'R', .. new byte[32]]), "bad_handshake" },
            { "framed random bytes", FrameCodecTests.Frame(Convert.FromHexString("9F3C0077AB12E4D501")), "bad_handshake" },
            { "a HELLO cut short inside its frame", FrameCodecTests.Frame(hello[..30]), "bad_handshake" },
            { "a HELLO with a byte too many", FrameCodecTests.Frame([.. hello, 0]), "bad_handshake" },
            { "a 1024-byte frame of zeros", FrameCodecTests.Frame(new byte[1024]), "bad_handshake" },
            { "three bytes, then the end", [1, 2, 3], "connection_closed" },
            { "half a HELLO frame, then the end", FrameCodecTests.Frame(hello)[..20], "connection_closed" },
            { "nothing, then the end", [], "connection_closed" },
        };
    }

    [Theory]
    [MemberData(nameof(GarbageInsteadOfHello))]
    public async Task AcceptAsync_GarbageInsteadOfHello_ThrowsMeshProtocolExceptionAndAnswersNothing(string what, byte[] garbage, string reason)
    {
        var (left, right) = DuplexPipe.CreatePair();
        var decideCalls = 0;

        var acceptor = Accept(AcceptorProtocol(), right, _ =>
        {
            Interlocked.Increment(ref decideCalls);
            return HandshakeVerdict.Ok;
        });
        await left.Output.WriteAsync(garbage).AsTask().WaitAsync(Timeout);
        await left.Output.CompleteAsync();

        (await ShouldFail(acceptor)).Should().Be(reason, what);
        decideCalls.Should().Be(0);
        (await ReadToEndAsync(left.Input)).Should().BeEmpty("the acceptor answers garbage with nothing but a closed connection");
    }

    [Fact]
    public async Task AcceptAsync_RandomAndMutatedInput_ThrowsNothingButMeshProtocolException()
    {
        var random = new Random(20240611);
        var hello = FrameCodecTests.Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32])));
        var unexpected = new List<string>();
        for (var round = 0; round < 300; round++)
        {
            byte[] input;
            switch (round % 3)
            {
                case 0:
                    input = new byte[random.Next(0, 80)];
                    random.NextBytes(input);
                    break;
                case 1:
                    var body = new byte[random.Next(0, 80)];
                    random.NextBytes(body);
                    input = FrameCodecTests.Frame(body);
                    break;
                default:
                    input = (byte[])hello.Clone();
                    input[random.Next(input.Length)] = (byte)random.Next(256);
                    input = input[..random.Next(input.Length + 1)];
                    break;
            }

            var (left, right) = DuplexPipe.CreatePair();
            var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
            await left.Output.WriteAsync(input).AsTask().WaitAsync(Timeout);
            await left.Output.CompleteAsync();

            var error = await ErrorOf(acceptor);
            if (error is not MeshProtocolException)
            {
                unexpected.Add($"{Convert.ToHexString(input)}: {error?.GetType().Name ?? "completed"} {error?.Message}");
            }
        }

        unexpected.Should().BeEmpty();
    }

    [Fact]
    public async Task InitiateAsync_RandomAndMutatedAnswers_ThrowsNothingButMeshProtocolException()
    {
        byte[] genuine;
        await using (var link = TappedLink.Create())
        {
            var accepted = Accept(AcceptorProtocol(), link.Acceptor, _ => HandshakeVerdict.Ok);
            await Initiate(InitiatorProtocol(), link.Initiator, Bob).WaitAsync(Timeout);
            await accepted.WaitAsync(Timeout);
            genuine = link.ToInitiator.Captured();
        }

        var random = new Random(7);
        var unexpected = new List<string>();
        for (var round = 0; round < 300; round++)
        {
            byte[] input;
            if (round % 2 == 0)
            {
                input = new byte[random.Next(0, 120)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])genuine.Clone();
                input[random.Next(input.Length)] ^= (byte)random.Next(1, 256);
                input = input[..random.Next(input.Length + 1)];
            }

            var (left, right) = DuplexPipe.CreatePair();
            var initiator = Initiate(InitiatorProtocol(), left, Bob);
            await right.Output.WriteAsync(input).AsTask().WaitAsync(Timeout);
            await right.Output.CompleteAsync();

            var error = await ErrorOf(initiator);
            if (error is not MeshProtocolException)
            {
                unexpected.Add($"{Convert.ToHexString(input)}: {error?.GetType().Name ?? "completed"} {error?.Message}");
            }
        }

        unexpected.Should().BeEmpty();
    }

    [Fact]
    public async Task AcceptAsync_HelloWithWrongMagic_ThrowsBadHandshakeAndAnswersNothing()
    {
        var (left, right) = DuplexPipe.CreatePair();
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32]));
        BinaryPrimitives.WriteUInt32BigEndian(hello.AsSpan(1), 0x45524C32); // "ERL2"

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        await left.Output.WriteAsync(FrameCodecTests.Frame(hello)).AsTask().WaitAsync(Timeout);

        var error = await ShouldFailWith(acceptor);
        error.Reason.Should().Be("bad_handshake");
        error.Message.Should().Contain("magic");
        (await ReadToEndAsync(left.Input)).Should().BeEmpty();
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)2)]
    [InlineData(ushort.MaxValue)]
    public async Task AcceptAsync_HelloWithOtherVersion_AnswersUnsupportedVersionAndThrows(ushort version)
    {
        var (left, right) = DuplexPipe.CreatePair();
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32]));
        BinaryPrimitives.WriteUInt16BigEndian(hello.AsSpan(5), version);

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        await left.Output.WriteAsync(FrameCodecTests.Frame(hello)).AsTask().WaitAsync(Timeout);

        (await ShouldFail(acceptor)).Should().Be("unsupported_version");
        (await ReadToEndAsync(left.Input)).Should().Equal(FrameCodecTests.Frame([(byte)'S', (byte)HandshakeStatus.UnsupportedVersion]));
    }

    [Fact]
    public async Task AcceptAsync_FutureVersionHelloWithUnknownLayout_StillAnswersUnsupportedVersion()
    {
        // A later version may lay HELLO out differently; the version check must come before any other parsing.
        var (left, right) = DuplexPipe.CreatePair();
        byte[] hello = [(byte)'H', 0x4C, 0x43, 0x4E, 0x4D, 0x00, 0x02, .. "something else entirely"u8];

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        await left.Output.WriteAsync(FrameCodecTests.Frame(hello)).AsTask().WaitAsync(Timeout);

        (await ShouldFail(acceptor)).Should().Be("unsupported_version");
        (await ReadToEndAsync(left.Input)).Should().Equal(FrameCodecTests.Frame([(byte)'S', (byte)HandshakeStatus.UnsupportedVersion]));
    }

    [Fact]
    public async Task InitiateAsync_AcceptorAnswersUnsupportedVersion_ThrowsUnsupportedVersion()
    {
        var (left, right) = DuplexPipe.CreatePair();
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        await PipeFrames.ReadFrameAsync(right.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        await PipeFrames.WriteFramesAsync(right.Output, CancellationToken.None, HandshakeMessages.EncodeStatus(HandshakeStatus.UnsupportedVersion))
            .AsTask().WaitAsync(Timeout);

        (await ShouldFail(initiator)).Should().Be("unsupported_version");
    }

    [Fact]
    public async Task InitiateAsync_AcceptorAnswersNotAllowed_ThrowsNotAllowed()
    {
        var (left, right) = DuplexPipe.CreatePair();
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        await PipeFrames.ReadFrameAsync(right.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        await PipeFrames.WriteFramesAsync(right.Output, CancellationToken.None, HandshakeMessages.EncodeStatus(HandshakeStatus.NotAllowed))
            .AsTask().WaitAsync(Timeout);

        (await ShouldFail(initiator)).Should().Be("not_allowed");
    }

    [Fact]
    public async Task Handshake_PeerClaimsTheAcceptorsOwnName_AcceptorThrowsNameInUse()
    {
        await using var link = TappedLink.Create();
        var decideCalls = 0;

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ =>
        {
            Interlocked.Increment(ref decideCalls);
            return HandshakeVerdict.Ok;
        });
        var impostor = Initiate(new HandshakeProtocol(Cookie, Bob, 99), link.Initiator, Bob);

        (await ShouldFail(acceptor)).Should().Be("name_in_use");
        (await ShouldFail(impostor)).Should().Be("not_allowed");
        decideCalls.Should().Be(0);
        link.ToInitiator.Captured().Should().Equal(FrameCodecTests.Frame([(byte)'S', (byte)HandshakeStatus.NotAllowed]));
    }

    [Theory]
    [InlineData(0x0000_0401u)] // 1 KiB + 1
    [InlineData(0x0010_0000u)] // 1 MiB
    [InlineData(0xFFFF_FFFFu)] // 4 GiB
    public async Task AcceptAsync_LengthPrefixAboveOneKibibyte_ThrowsFrameTooLargeBeforeThePayload(uint length)
    {
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        await left.Output.WriteAsync(FrameCodecTests.Header(length)).AsTask().WaitAsync(Timeout);

        // The connection stays open and no payload follows: the acceptor must not wait for it.
        (await ShouldFail(acceptor)).Should().Be("frame_too_large");
    }

    [Fact]
    public async Task InitiateAsync_OneMebibyteLengthPrefixFromAcceptor_ThrowsFrameTooLarge()
    {
        var (left, right) = DuplexPipe.CreatePair();
        var initiator = Initiate(InitiatorProtocol(), left, Bob);

        await PipeFrames.ReadFrameAsync(right.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        await right.Output.WriteAsync(FrameCodecTests.Header(0x0010_0000)).AsTask().WaitAsync(Timeout);

        (await ShouldFail(initiator)).Should().Be("frame_too_large");
    }

    [Fact]
    public async Task InitiateAsync_DiallingOneNodeButAnotherAnswers_ThrowsUnexpectedPeerWithoutProvingAnything()
    {
        await using var link = TappedLink.Create();
        var decideCalls = 0;

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ =>
        {
            Interlocked.Increment(ref decideCalls);
            return HandshakeVerdict.Ok;
        });
        var initiator = Initiate(InitiatorProtocol(), link.Initiator, Carol);

        var error = await ShouldFailWith(initiator);
        error.Reason.Should().Be("unexpected_peer");
        error.Message.Should().Contain(Carol.Value).And.Contain(Bob.Value);
        (await ShouldFail(acceptor)).Should().Be("connection_closed");
        decideCalls.Should().Be(0);
        link.ToAcceptor.Captured().Length.Should().Be(HelloFrameLength, "the initiator sends no proof to a node it did not dial");
    }

    [Fact]
    public async Task AcceptAsync_HelloThenSilence_IsCancelledByTheToken()
    {
        var (left, right) = DuplexPipe.CreatePair();
        using var cts = new CancellationTokenSource();

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok, cts.Token);
        await left.Output.WriteAsync(FrameCodecTests.Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32]))))
            .AsTask().WaitAsync(Timeout);
        await PipeFrames.ReadFrameAsync(left.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout); // STATUS
        await PipeFrames.ReadFrameAsync(left.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout); // CHALLENGE

        // The acceptor now waits for a REPLY that never comes.
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await FluentActions.Awaiting(() => acceptor.WaitAsync(Timeout)).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task AcceptAsync_HalfAHelloThenSilence_IsCancelledByTheToken()
    {
        var (left, right) = DuplexPipe.CreatePair();
        using var cts = new CancellationTokenSource();
        var hello = FrameCodecTests.Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32])));

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok, cts.Token);
        await left.Output.WriteAsync(hello[..(hello.Length / 2)]).AsTask().WaitAsync(Timeout);
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await FluentActions.Awaiting(() => acceptor.WaitAsync(Timeout)).Should().ThrowAsync<OperationCanceledException>();
    }

    [Theory]
    [InlineData(0)] // reads HELLO, says nothing
    [InlineData(1)] // sends STATUS only
    [InlineData(2)] // sends STATUS and CHALLENGE, reads REPLY, never sends ACK
    public async Task InitiateAsync_AcceptorFallsSilent_IsCancelledByTheToken(int stepsBeforeSilence)
    {
        var (left, right) = DuplexPipe.CreatePair();
        using var cts = new CancellationTokenSource();

        var initiator = Initiate(InitiatorProtocol(), left, Bob, cts.Token);
        await PartialAcceptAsync(right, stepsBeforeSilence).WaitAsync(Timeout);

        // The initiator now waits for an answer that never comes.
        cts.CancelAfter(TimeSpan.FromMilliseconds(200));

        await FluentActions.Awaiting(() => initiator.WaitAsync(Timeout)).Should().ThrowAsync<OperationCanceledException>();
    }

    [Theory]
    [InlineData(0, "connection_closed")] // closes on reading HELLO
    [InlineData(1, "connection_closed")] // closes after STATUS
    [InlineData(2, "rejected")] // closes after reading REPLY, before ACK: what an acceptor does to a failed proof
    public async Task InitiateAsync_AcceptorClosesMidHandshake_ThrowsConnectionClosedOrRejected(int stepsBeforeClose, string reason)
    {
        var (left, right) = DuplexPipe.CreatePair();

        var initiator = Initiate(InitiatorProtocol(), left, Bob);
        await PartialAcceptAsync(right, stepsBeforeClose).WaitAsync(Timeout);
        await right.CloseAsync();

        (await ShouldFail(initiator)).Should().Be(reason);
    }

    [Fact]
    public async Task AcceptAsync_InitiatorClosesAfterHello_ThrowsConnectionClosed()
    {
        var (left, right) = DuplexPipe.CreatePair();

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        await left.Output.WriteAsync(FrameCodecTests.Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(Alice, 1, 0, new byte[32]))))
            .AsTask().WaitAsync(Timeout);
        await PipeFrames.ReadFrameAsync(left.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        await left.CloseAsync();

        (await ShouldFail(acceptor)).Should().Be("connection_closed");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Handshake_EveryByteOnTheWire_NeverContainsTheCookieOrTheKey(bool sameCookie)
    {
        await using var link = TappedLink.Create();

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ => HandshakeVerdict.Ok);
        var initiator = Initiate(InitiatorProtocol(cookie: sameCookie ? Cookie : OtherCookie), link.Initiator, Bob);
        await ErrorOf(initiator);
        await ErrorOf(acceptor);

        byte[] wire = [.. link.ToAcceptor.Captured(), .. link.ToInitiator.Captured()];
        wire.Length.Should().BeGreaterThanOrEqualTo(HelloFrameLength + StatusFrameLength + ChallengeFrameLength + ReplyFrameLength);
        foreach (var cookie in new[] { Cookie, OtherCookie })
        {
            wire.AsSpan().IndexOf(Encoding.UTF8.GetBytes(cookie)).Should().Be(-1, "the cookie must never cross the wire");
            wire.AsSpan().IndexOf(Encoding.UTF8.GetBytes(cookie[..16])).Should().Be(-1, "not even part of it");
            wire.AsSpan().IndexOf(HandshakeProtocol.DeriveKey(cookie)).Should().Be(-1, "the key derived from it neither");
        }
    }

    public static TheoryData<string> HandshakeFrames() => new() { "HELLO", "STATUS", "CHALLENGE", "REPLY", "ACK" };

    [Theory]
    [MemberData(nameof(HandshakeFrames))]
    public async Task Handshake_AnySingleByteOfAFrameAlteredInTransit_HandshakeFails(string frame)
    {
        var (towardsAcceptor, start, length) = frame switch
        {
            "HELLO" => (true, 0, HelloFrameLength),
            "REPLY" => (true, HelloFrameLength, ReplyFrameLength),
            "STATUS" => (false, 0, StatusFrameLength),
            "CHALLENGE" => (false, StatusFrameLength, ChallengeFrameLength),
            _ => (false, StatusFrameLength + ChallengeFrameLength, AckFrameLength),
        };

        var failures = new List<string>();
        for (var target = start; target < start + length; target++)
        {
            var at = target;
            Func<long, byte, byte> flip = (offset, value) => offset == at ? (byte)(value ^ 0x01) : value;
            await using var link = towardsAcceptor ? TappedLink.Create(alterToAcceptor: flip) : TappedLink.Create(alterToInitiator: flip);

            // Some alterations (a longer length prefix) leave both sides waiting for bytes that never come; that is a
            // failed handshake too, ended by the handshake timeout.
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            var decideCalls = 0;
            var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ =>
            {
                Interlocked.Increment(ref decideCalls);
                return HandshakeVerdict.Ok;
            }, cts.Token);
            var initiator = Initiate(InitiatorProtocol(), link.Initiator, default, cts.Token);

            var initiatorError = await ErrorOf(initiator);
            var acceptorError = await ErrorOf(acceptor);
            var where = $"{frame} byte {target - start} (stream offset {target})";
            if (initiatorError is null)
            {
                failures.Add($"{where}: the initiator completed the handshake");
            }
            else if (initiatorError is not (MeshProtocolException or OperationCanceledException))
            {
                failures.Add($"{where}: the initiator threw {initiatorError.GetType().Name}: {initiatorError.Message}");
            }

            // The ACK is the last message: the acceptor has finished by the time it is altered.
            if (frame != "ACK")
            {
                if (acceptorError is null)
                {
                    failures.Add($"{where}: the acceptor completed the handshake");
                }
                else if (acceptorError is not (MeshProtocolException or OperationCanceledException))
                {
                    failures.Add($"{where}: the acceptor threw {acceptorError.GetType().Name}: {acceptorError.Message}");
                }

                if (decideCalls != 0)
                {
                    failures.Add($"{where}: the acceptor decided on an unproven peer");
                }
            }
        }

        failures.Should().BeEmpty();
    }

    [Fact]
    public async Task Handshake_ChallengeNonceAlteredInTransit_AcceptorRejectsTheProof()
    {
        // The sharpest form of the transcript binding: a valid CHALLENGE with one nonce bit changed decodes fine,
        // so only the MAC over the transcript can catch it.
        var nonceStart = StatusFrameLength + 4 + 1 + 8 + 4;
        await using var link = TappedLink.Create(alterToInitiator: (offset, value) => offset == nonceStart ? (byte)(value ^ 0x80) : value);

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ => HandshakeVerdict.Ok);
        var initiator = Initiate(InitiatorProtocol(), link.Initiator, Bob);

        (await ShouldFail(acceptor)).Should().Be("bad_cookie");
        (await ShouldFail(initiator)).Should().Be("rejected");
    }

    [Fact]
    public async Task InitiateAsync_FramesRightBehindTheAck_AreLeftInThePipe()
    {
        var (left, right) = DuplexPipe.CreatePair();
        var writer = new ArrayBufferWriter<byte>();
        MessageFrames.WriteMessage(writer, 0, "inbox", [1, 2, 3]);

        var acceptor = FakeAcceptAsync(right, Cookie, Bob, HandshakeVerdict.Ok, afterAck: writer.WrittenSpan.ToArray());
        (await Initiate(InitiatorProtocol(), left, Bob).WaitAsync(Timeout)).Verdict.Should().Be(HandshakeVerdict.Ok);
        await acceptor.WaitAsync(Timeout);

        var payload = await PipeFrames.ReadFrameAsync(left.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        var frame = MessageFrames.Decode(new ReadOnlySequence<byte>(payload));
        frame.Type.Should().Be(FrameType.Send);
        frame.Payload.ToArray().Should().Equal(1, 2, 3);
    }

    [Fact]
    public async Task AcceptAsync_FramesRightBehindTheReply_AreLeftInThePipe()
    {
        var (left, right) = DuplexPipe.CreatePair();
        var writer = new ArrayBufferWriter<byte>();
        MessageFrames.WriteTick(writer);

        var acceptor = Accept(AcceptorProtocol(), right, _ => HandshakeVerdict.Ok);
        (await FakeInitiateAsync(left, Cookie, Carol, afterReply: writer.WrittenSpan.ToArray()).WaitAsync(Timeout)).Should().Be(HandshakeVerdict.Ok);
        (await acceptor.WaitAsync(Timeout)).Peer.Should().Be(Carol);

        var payload = await PipeFrames.ReadFrameAsync(right.Input, 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        MessageFrames.Decode(new ReadOnlySequence<byte>(payload)).Type.Should().Be(FrameType.Tick);
    }

    [Fact]
    public async Task AcceptAsync_DecideThrows_ExceptionPropagatesAndNoAckIsSent()
    {
        await using var link = TappedLink.Create();

        var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ => throw new InvalidOperationException("shutting down"));
        var initiator = Initiate(InitiatorProtocol(), link.Initiator, Bob);

        await FluentActions.Awaiting(() => acceptor.WaitAsync(Timeout)).Should().ThrowExactlyAsync<InvalidOperationException>();
        await ShouldFail(initiator);
        link.ToInitiator.Captured().Length.Should().Be(StatusFrameLength + ChallengeFrameLength);
    }

    [Fact]
    public async Task Handshake_TwoRuns_UseFreshNonces()
    {
        var hellos = new List<byte[]>();
        for (var i = 0; i < 2; i++)
        {
            await using var link = TappedLink.Create();
            var acceptor = Accept(AcceptorProtocol(), link.Acceptor, _ => HandshakeVerdict.Ok);
            await Initiate(InitiatorProtocol(), link.Initiator, Bob).WaitAsync(Timeout);
            await acceptor.WaitAsync(Timeout);
            hellos.Add(link.ToAcceptor.Captured()[..HelloFrameLength]);
            hellos.Add(link.ToInitiator.Captured()[StatusFrameLength..(StatusFrameLength + ChallengeFrameLength)]);
        }

        hellos[0].Should().NotEqual(hellos[2], "the initiator's nonce is fresh each time");
        hellos[1].Should().NotEqual(hellos[3], "the acceptor's nonce is fresh each time");
    }

    private static HandshakeProtocol InitiatorProtocol(string cookie = Cookie) => new(cookie, Alice, AliceCreation, AliceFlags);

    private static HandshakeProtocol AcceptorProtocol(string cookie = Cookie) => new(cookie, Bob, BobCreation, BobFlags);

    /// <summary>Runs the dialling side; on failure its end is closed, as the connection manager closes the socket.</summary>
    private static Task<HandshakeOutcome> Initiate(HandshakeProtocol protocol, DuplexPipe pipe, NodeName expectedPeer, CancellationToken cancellationToken = default) =>
        CloseOnFailure(pipe, () => protocol.InitiateAsync(pipe, expectedPeer, cancellationToken));

    /// <summary>Runs the accepting side; on failure its end is closed, as the connection manager closes the socket.</summary>
    private static Task<HandshakeOutcome> Accept(HandshakeProtocol protocol, DuplexPipe pipe, Func<HandshakeOutcome, HandshakeVerdict> decide, CancellationToken cancellationToken = default) =>
        CloseOnFailure(pipe, () => protocol.AcceptAsync(pipe, decide, cancellationToken));

    private static async Task<HandshakeOutcome> CloseOnFailure(DuplexPipe pipe, Func<Task<HandshakeOutcome>> run)
    {
        try
        {
            return await Task.Run(run);
        }
        catch (Exception)
        {
            await pipe.CloseAsync();
            throw;
        }
    }

    /// <summary>Awaits a handshake that must fail with a <see cref="MeshProtocolException"/> and gives its reason.</summary>
    private static async Task<string> ShouldFail(Task task) => (await ShouldFailWith(task)).Reason;

    private static async Task<MeshProtocolException> ShouldFailWith(Task task)
    {
        var assertion = await FluentActions.Awaiting(() => task.WaitAsync(Timeout)).Should().ThrowExactlyAsync<MeshProtocolException>();
        return assertion.Which;
    }

    private static async Task<Exception?> ErrorOf(Task task)
    {
        try
        {
            await task.WaitAsync(Timeout);
            return null;
        }
#pragma warning disable CA1031 // the caller judges the exception
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return ex;
        }
    }

    private static async Task<byte[]> ReadToEndAsync(PipeReader reader)
    {
        while (true)
        {
            var result = await reader.ReadAsync().AsTask().WaitAsync(Timeout);
            if (result.IsCompleted)
            {
                var bytes = result.Buffer.ToArray();
                reader.AdvanceTo(result.Buffer.End);
                return bytes;
            }

            reader.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    private static byte[] Proof(string cookie, byte[] label, params byte[][] transcript)
    {
        byte[] message = [.. label, .. transcript.SelectMany(part => part)];
        return HMACSHA256.HashData(HandshakeProtocol.DeriveKey(cookie), message);
    }

    /// <summary>Plays the acceptor by hand, proving <paramref name="proven"/> with <paramref name="cookie"/> but sending <paramref name="sent"/>.</summary>
    private static async Task FakeAcceptAsync(DuplexPipe pipe, string cookie, NodeName self, HandshakeVerdict proven, HandshakeVerdict? sent = null, byte[]? afterAck = null)
    {
        var hello = await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);
        var status = HandshakeMessages.EncodeStatus(HandshakeStatus.Ok);
        var challenge = HandshakeMessages.EncodeChallenge(new HandshakeIdentity(self, BobCreation, BobFlags, RandomNumberGenerator.GetBytes(32)));
        await PipeFrames.WriteFramesAsync(pipe.Output, CancellationToken.None, status, challenge);

        var reply = await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);
        var mac = Proof(cookie, AcceptorLabel, hello, status, challenge, reply, [(byte)proven]);
        FrameCodec.WriteFrame(pipe.Output, HandshakeMessages.EncodeAck(sent ?? proven, mac));
        if (afterAck is not null)
        {
            pipe.Output.Write(afterAck);
        }

        await pipe.Output.FlushAsync();
    }

    /// <summary>Plays the initiator by hand and checks the acceptor's proof itself.</summary>
    private static async Task<HandshakeVerdict> FakeInitiateAsync(DuplexPipe pipe, string cookie, NodeName self, byte[]? afterReply = null)
    {
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(self, 5, 0, RandomNumberGenerator.GetBytes(32)));
        await PipeFrames.WriteFramesAsync(pipe.Output, CancellationToken.None, hello);
        var status = await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);
        var challenge = await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);

        var reply = HandshakeMessages.EncodeReply(Proof(cookie, InitiatorLabel, hello, status, challenge));
        FrameCodec.WriteFrame(pipe.Output, reply);
        if (afterReply is not null)
        {
            pipe.Output.Write(afterReply);
        }

        await pipe.Output.FlushAsync();
        var ack = await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);
        return CheckAck(ack, cookie, hello, status, challenge, reply);
    }

    private static HandshakeVerdict CheckAck(byte[] ack, string cookie, byte[] hello, byte[] status, byte[] challenge, byte[] reply)
    {
        var verdict = HandshakeMessages.DecodeAck(ack, out var mac);
        mac.ToArray().Should().Equal(Proof(cookie, AcceptorLabel, hello, status, challenge, reply, [(byte)verdict]), "the acceptor's proof must check out");
        return verdict;
    }

    /// <summary>Plays the first <paramref name="steps"/> steps of the acceptor (0: read HELLO; 1: + STATUS; 2: + CHALLENGE, read REPLY).</summary>
    private static async Task PartialAcceptAsync(DuplexPipe pipe, int steps)
    {
        await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);
        if (steps >= 1)
        {
            await PipeFrames.WriteFramesAsync(pipe.Output, CancellationToken.None, HandshakeMessages.EncodeStatus(HandshakeStatus.Ok));
        }

        if (steps >= 2)
        {
            var challenge = HandshakeMessages.EncodeChallenge(new HandshakeIdentity(Bob, BobCreation, BobFlags, RandomNumberGenerator.GetBytes(32)));
            await PipeFrames.WriteFramesAsync(pipe.Output, CancellationToken.None, challenge);
            await PipeFrames.ReadFrameAsync(pipe.Input, 1024, CancellationToken.None);
        }
    }
}
