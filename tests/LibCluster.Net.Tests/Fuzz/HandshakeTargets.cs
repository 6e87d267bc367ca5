using System.Buffers;
using System.IO.Pipelines;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// One side of the handshake run over in-memory pipes against a hostile peer whose every byte is the input. The input
/// is either all there before the run starts (then closed), or written piece by piece while the run waits for it. The
/// pipes run continuations inline, so the whole run happens on the calling thread: its allocations are measured, and a
/// run still going after the last byte and the close is a hang.
/// </summary>
internal abstract class HandshakeTarget : FuzzTarget
{
    /// <summary>The cookie of the test vector in docs/protocol.md, so that the vector's recorded frames are a real capture.</summary>
    public const string Cookie = "0123456789abcdef0123456789abcdef";

    public static readonly NodeName Initiator = NodeName.Parse("a@h");
    public static readonly NodeName Acceptor = NodeName.Parse("b@h");

    private static readonly PipeOptions Inline = new(
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: 1024 * 1024,
        resumeWriterThreshold: 512 * 1024,
        useSynchronizationContext: false);

    /// <summary>
    /// Reading keeps at most one frame of at most the 1 KiB cap (copied out), plus a transcript of the frames so far and
    /// a proof: a few caps' worth. The rest is fixed (nonces, names, the MAC, the async state of a run that waited, and the
    /// exception of a refusal). Nothing scales with what a length prefix announces.
    /// </summary>
    public override long AllocationBudget => (8 * HandshakeMessages.MaxHandshakeFrameBytes) + (16 * 1024);

    protected abstract Task Start(IDuplexPipe pipe, RunState state, CancellationToken cancellationToken);

    /// <summary>Checks what the side under test wrote (its frame payloads, in order); returns the stage for the signature.</summary>
    protected abstract string CheckWritten(IReadOnlyList<byte[]> written, Exception? failure, RunState state, byte[] input);

    protected override string Execute(byte[] input, AllocationMeter meter)
    {
        // With a synchronization context on the thread (xunit sets one), finished awaits are not run inline but queued to
        // the thread pool: the run would leave this thread, and its allocations the measurement.
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            return ExecuteInline(input, meter);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    private string ExecuteInline(byte[] input, AllocationMeter meter)
    {
        var toSide = new Pipe(Inline);
        var fromSide = new Pipe(Inline);
        var pipe = new Duplex(toSide.Reader, fromSide.Writer);
        var state = new RunState();
        using var timeout = new CancellationTokenSource(RunTimeout);
        var hash = HashOf(input);
        Task run;
        if (hash % 3 != 0)
        {
            toSide.Writer.Write(input);
            toSide.Writer.Complete();
            meter.Start();
            run = Start(pipe, state, timeout.Token);
            meter.Stop();
        }
        else
        {
            var random = new Random((int)(hash >> 16));
            var chunks = new List<(int Offset, int Length)>();
            for (var offset = 0; offset < input.Length;)
            {
                var length = Math.Min(random.Next(1, 64), input.Length - offset);
                chunks.Add((offset, length));
                offset += length;
            }

            meter.Start();
            run = Start(pipe, state, timeout.Token);
            foreach (var (offset, length) in chunks)
            {
                toSide.Writer.Write(input.AsSpan(offset, length));
                var flush = toSide.Writer.FlushAsync(CancellationToken.None);
                if (!flush.IsCompleted)
                {
                    throw new FuzzFailure($"{Name}: the side under test stopped reading: {Hex(input)}");
                }
            }

            toSide.Writer.Complete();
            meter.Stop();
        }

        if (!run.IsCompleted)
        {
            // Everything has been said and the stream is closed: a run that still waits would wait forever.
            try
            {
                run.Wait(RunTimeout);
            }
            catch (AggregateException)
            {
            }

            throw new FuzzFailure($"{Name}: the run did not end when the input did ({(run.IsCompleted ? "it ended only later" : "hang")}): {Hex(input)}");
        }

        var failure = run.Exception?.InnerException;
        if (run.IsCanceled || failure is OperationCanceledException)
        {
            throw new FuzzFailure($"{Name}: the run hit the {RunTimeout.TotalSeconds:0} s timeout: {Hex(input)}");
        }

        var written = Written(fromSide.Reader, input);
        meter.Stage = CheckWritten(written, failure, state, input);
        run.GetAwaiter().GetResult();
        throw new FuzzFailure($"{Name}: the handshake succeeded against a peer that does not know the cookie: {Hex(input)}");
    }

    private List<byte[]> Written(PipeReader reader, byte[] input)
    {
        var frames = new List<byte[]>();
        if (!reader.TryRead(out var result))
        {
            return frames;
        }

        var buffer = result.Buffer;
        while (FrameCodec.TryReadFrame(ref buffer, HandshakeMessages.MaxHandshakeFrameBytes, out var payload))
        {
            frames.Add(payload.ToArray());
        }

        if (!buffer.IsEmpty)
        {
            throw new FuzzFailure($"{Name}: the side under test wrote a partial frame: {Hex(input)}");
        }

        reader.AdvanceTo(result.Buffer.End);
        return frames;
    }

    protected static byte[] Frame(byte[] payload) => FrameTarget.Frame(payload);

    protected static byte[] Nonce(byte first) => [.. Enumerable.Range(first, HandshakeMessages.NonceSize).Select(i => (byte)i)];

    protected FuzzFailure Broke(string what, byte[] input) => new($"{Name}: {what}: {Hex(input)}");

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>What one run observed besides the bytes (runs go on in parallel: nothing of it lives in the target).</summary>
    protected sealed class RunState
    {
        public bool Decided { get; set; }
    }
}

/// <summary>
/// The accepting side (<see cref="HandshakeProtocol.AcceptAsync"/>) facing a stranger who sends the input. Besides the
/// general rules: the stranger never gets past the proof (the decision is never asked for, no ACK is written), and the
/// acceptor says nothing but what docs/protocol.md allows (a STATUS refusal, or STATUS ok and a CHALLENGE).
/// </summary>
internal sealed class AcceptorTarget : HandshakeTarget
{
    private static readonly HandshakeProtocol Protocol = new(Cookie, Acceptor, 2);

    private static readonly IReadOnlySet<string> Reasons = new HashSet<string>(StringComparer.Ordinal)
    {
        "bad_handshake", "frame_too_large", "unsupported_version", "name_in_use", "bad_cookie", "connection_closed",
    };

    public override string Name => "acceptor";

    protected override IReadOnlySet<string> AllowedReasons => Reasons;

    /// <summary>HELLO and REPLY of the test vector in docs/protocol.md: a real initiator's bytes, recorded.</summary>
    public static byte[] RecordedInitiator()
    {
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(Initiator, 1, 0, Nonce(0x00)));
        byte[] reply = Convert.FromHexString("52c4d62b733a56abbd3e28cc2b3e8abdfa3a11b44c3ce8ee49d3f3e8b6b5440d8e");
        return [.. Frame(hello), .. Frame(reply)];
    }

    public override IEnumerable<byte[]> Seeds()
    {
        var hello = HandshakeMessages.EncodeHello(new HandshakeIdentity(Initiator, 1, 0, Nonce(0x00)));
        var reply = HandshakeMessages.EncodeReply(new byte[HandshakeMessages.MacSize]);
        yield return [];
        yield return Frame(hello);
        yield return RecordedInitiator();
        yield return [.. Frame(hello), .. Frame(reply)];
        yield return [.. Frame(hello), .. Frame(reply), .. Frame([(byte)FrameType.Tick])];
        yield return [.. Frame(hello), .. Frame(hello)];
        yield return Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(Acceptor, 1, 0, Nonce(0x40))));
        yield return Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(NodeName.Parse("node_1.x-y@2001:db8::1"), uint.MaxValue, ulong.MaxValue, Nonce(0x80))));
        var future = (byte[])hello.Clone();
        future[6] = 2;
        yield return Frame(future);
        yield return Frame(hello[..^1]);
        yield return Frame([.. hello, 0]);
        yield return Frame(reply);
        yield return [0, 0, 4, 1, (byte)'H'];
        yield return [0xFF, 0xFF, 0xFF, 0xFF];
        yield return [0, 0, 0, 0];
        yield return "GET / HTTP/1.1\r\n\r\n"u8.ToArray();
    }

    protected override Task Start(IDuplexPipe pipe, RunState state, CancellationToken cancellationToken) =>
        Protocol.AcceptAsync(pipe, _ =>
        {
            state.Decided = true;
            return HandshakeVerdict.Ok;
        }, cancellationToken);

    protected override string CheckWritten(IReadOnlyList<byte[]> written, Exception? failure, RunState state, byte[] input)
    {
        if (state.Decided)
        {
            throw Broke("the acceptor took a decision for a stranger", input);
        }

        var reason = (failure as MeshProtocolException)?.Reason;
        var expected = reason switch
        {
            "unsupported_version" => [[HandshakeMessages.StatusTag, (byte)HandshakeStatus.UnsupportedVersion]],
            "name_in_use" => [[HandshakeMessages.StatusTag, (byte)HandshakeStatus.NotAllowed]],
            _ => (byte[][]?)null,
        };
        if (expected is not null)
        {
            if (written.Count != 1 || !written[0].AsSpan().SequenceEqual(expected[0]))
            {
                throw Broke($"the acceptor refused ({reason}) without saying the matching STATUS", input);
            }
        }
        else if (written.Count is not (0 or 2))
        {
            throw Broke($"the acceptor wrote {written.Count} frames", input);
        }
        else if (written.Count == 2 && (!written[0].AsSpan().SequenceEqual([HandshakeMessages.StatusTag, (byte)HandshakeStatus.Ok]) || written[1][0] != HandshakeMessages.ChallengeTag))
        {
            throw Broke("the acceptor wrote something other than STATUS ok and a CHALLENGE", input);
        }

        return $" | acceptor wrote {written.Count}";
    }
}

/// <summary>
/// The dialling side (<see cref="HandshakeProtocol.InitiateAsync"/>) facing an acceptor (or an impostor at its address)
/// that sends the input. Besides the general rules: the dial never succeeds (nobody without the cookie can answer this
/// dial's fresh nonce), and the initiator writes its proof only after a well-formed STATUS ok and a CHALLENGE from the node
/// it dialled.
/// </summary>
internal sealed class InitiatorTarget : HandshakeTarget
{
    private static readonly HandshakeProtocol Protocol = new(Cookie, Initiator, 1);

    private static readonly IReadOnlySet<string> Reasons = new HashSet<string>(StringComparer.Ordinal)
    {
        "bad_handshake", "frame_too_large", "unsupported_version", "not_allowed", "unexpected_peer", "rejected", "bad_cookie", "connection_closed",
    };

    public override string Name => "initiator";

    protected override IReadOnlySet<string> AllowedReasons => Reasons;

    /// <summary>STATUS, CHALLENGE and ACK of the test vector in docs/protocol.md: a real acceptor's bytes, recorded.</summary>
    public static byte[] RecordedAcceptor()
    {
        var challenge = HandshakeMessages.EncodeChallenge(new HandshakeIdentity(Acceptor, 2, 0, Nonce(0x20)));
        byte[] ack = Convert.FromHexString("410074b955b5535b97600a8fcaf46aaba543483dfc1cb92debda820f48a135ee9d03");
        return [.. Frame(HandshakeMessages.EncodeStatus(HandshakeStatus.Ok)), .. Frame(challenge), .. Frame(ack)];
    }

    public override IEnumerable<byte[]> Seeds()
    {
        var ok = Frame(HandshakeMessages.EncodeStatus(HandshakeStatus.Ok));
        var challenge = Frame(HandshakeMessages.EncodeChallenge(new HandshakeIdentity(Acceptor, 2, 0, Nonce(0x20))));
        yield return [];
        yield return RecordedAcceptor();
        yield return [.. ok, .. challenge];
        yield return [.. ok, .. challenge, .. Frame(HandshakeMessages.EncodeAck(HandshakeVerdict.Alive, new byte[HandshakeMessages.MacSize]))];
        yield return [.. ok, .. challenge, .. Frame([HandshakeMessages.AckTag, 3, .. new byte[HandshakeMessages.MacSize]])];
        yield return [.. ok, .. Frame(HandshakeMessages.EncodeChallenge(new HandshakeIdentity(NodeName.Parse("c@h"), 2, 0, Nonce(0x20))))];
        yield return Frame(HandshakeMessages.EncodeStatus(HandshakeStatus.NotAllowed));
        yield return Frame(HandshakeMessages.EncodeStatus(HandshakeStatus.UnsupportedVersion));
        yield return Frame([HandshakeMessages.StatusTag, 3]);
        yield return [.. ok, .. Frame([HandshakeMessages.ChallengeTag])];
        yield return [.. ok, 0xFF, 0xFF, 0xFF, 0xFF];
    }

    protected override Task Start(IDuplexPipe pipe, RunState state, CancellationToken cancellationToken) =>
        Protocol.InitiateAsync(pipe, Acceptor, cancellationToken);

    protected override string CheckWritten(IReadOnlyList<byte[]> written, Exception? failure, RunState state, byte[] input)
    {
        if (written.Count == 0 || written[0][0] != HandshakeMessages.HelloTag)
        {
            throw Broke("the initiator did not start with its HELLO", input);
        }

        if (written.Count > 2 || (written.Count == 2 && written[1][0] != HandshakeMessages.ReplyTag))
        {
            throw Broke($"the initiator wrote {written.Count} frames", input);
        }

        // The proof goes only to the node dialled, after a well-formed STATUS ok: anyone else could guess the cookie offline with it.
        var reason = (failure as MeshProtocolException)?.Reason;
        if (written.Count == 2 && !ReadStatusAndChallengeOf(input))
        {
            throw Broke("the initiator sent its proof without a STATUS ok and a CHALLENGE from the node it dialled", input);
        }

        if (written.Count == 2 && reason is "unexpected_peer" or "not_allowed" or "unsupported_version")
        {
            throw Broke($"the initiator sent its proof, then refused with {reason}", input);
        }

        return $" | initiator wrote {written.Count}";
    }

    /// <summary>True when the input starts with a well-formed STATUS ok and a CHALLENGE from the node dialled.</summary>
    private static bool ReadStatusAndChallengeOf(byte[] input)
    {
        var buffer = new ReadOnlySequence<byte>(input);
        try
        {
            return FrameCodec.TryReadFrame(ref buffer, HandshakeMessages.MaxHandshakeFrameBytes, out var status)
                && HandshakeMessages.DecodeStatus(status.ToArray()) == HandshakeStatus.Ok
                && FrameCodec.TryReadFrame(ref buffer, HandshakeMessages.MaxHandshakeFrameBytes, out var challenge)
                && HandshakeMessages.DecodeChallenge(challenge.ToArray()).Name == Acceptor;
        }
        catch (MeshProtocolException)
        {
            return false;
        }
    }
}
