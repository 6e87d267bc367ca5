using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// The fuzz corpus (tests/LibCluster.Net.Tests/Fuzz/Corpus, inputs the campaign found interesting) played against a live
/// node over real loopback sockets: the in-memory fuzz targets stop at the parsers, these go through the listener, the
/// socket pipe, the connection and the mailboxes.
/// </summary>
public sealed class LiveCorpusTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    [Fact]
    public async Task Listener_EveryAcceptorCorpusInput_ClosedWithoutAnAckAndTheNodeKeepsServing()
    {
        var inputs = Corpus("acceptor");
        inputs.Should().NotBeEmpty();
        await using var target = HostileTarget.Start(handshakeTimeout: TimeSpan.FromSeconds(2));
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        using var gate = new SemaphoreSlim(16);

        // Each input from its own address, so that those that fail the proof do not get the others rate-limited.
        var answers = await Task.WhenAll(inputs.Select(async (input, i) =>
        {
            await gate.WaitAsync(Timeout);
            try
            {
                return (Input: input, Answer: await PlayAsync(target.EndPoint, new IPAddress([127, 1, (byte)(i / 250), (byte)(2 + (i % 250))]), input));
            }
            finally
            {
                gate.Release();
            }
        })).WaitAsync(TimeSpan.FromSeconds(60));

        foreach (var (input, answer) in answers)
        {
            var frames = Frames(answer);
            var tags = string.Concat(frames.Select(f => (char)f[0]));
            tags.Should().BeOneOf(["", "S", "SC"], $"a stranger gets at most a STATUS and a CHALLENGE, never an ACK (input {Convert.ToHexString(input)})");
        }

        target.Cluster.ConnectedNodes.Should().Equal(peer.Name);
        await target.AssertServesAsync(peer, Timeout, "after the whole corpus");
    }

    [Fact]
    public async Task Connection_EveryMessageCorpusInput_HandledOrClosedExactlyAsTheDecoderSays()
    {
        var inputs = Corpus("message");
        inputs.Should().NotBeEmpty();
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        var protocolErrors = 0;

        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            var expected = Expected(input);
            await using var abuser = await HostilePeer.ConnectAsync(target.EndPoint, new IPAddress([127, 2, (byte)(i / 250), (byte)(2 + (i % 250))]), Timeout);
            await abuser.HandshakeAsync(target.Name, $"fuzz{i}", TestNode.Cookie, Timeout);
            var probe = 0x7F00_0000UL + (ulong)i;
            var writer = new ArrayBufferWriter<byte>();
            FrameCodec.WriteFrame(writer, input);
            MessageFrames.WriteMessage(writer, probe, "echo", "still there?"u8);

            await abuser.SendRawAsync(writer.WrittenMemory, Timeout);
            var answered = await abuser.ReadUntilReplyOrCloseAsync(probe, Timeout);

            answered.Should().Be(expected == "handled", $"the decoder says '{expected}' for {Convert.ToHexString(input)}");
            if (expected == "protocol_error")
            {
                protocolErrors++;
                await Eventually.TrueAsync(() => target.Counters.Closed("protocol_error") == protocolErrors, Timeout, $"input {i} is counted as a protocol error");
            }
        }

        target.Log.WarningsWithEventId(1101).Should().HaveCount(protocolErrors, "one warning per connection closed for a bad frame");
        target.Cluster.ConnectedNodes.Should().Contain(peer.Name);
        await target.AssertServesAsync(peer, Timeout, "after the whole corpus");
    }

    /// <summary>What the node should do with a data frame: <c>handled</c>, <c>protocol_error</c> or <c>goodbye</c>.</summary>
    private static string Expected(byte[] payload)
    {
        try
        {
            var frame = MessageFrames.Decode(new ReadOnlySequence<byte>(payload));
            if (frame.Type == FrameType.Goodbye)
            {
                return "goodbye";
            }

            if (frame.Type is FrameType.Send or FrameType.Request)
            {
                StrictUtf8.GetString(frame.Mailbox.ToArray());
            }

            return "handled";
        }
        catch (MeshProtocolException)
        {
            return "protocol_error";
        }
        catch (DecoderFallbackException)
        {
            return "protocol_error";
        }
    }

    /// <summary>Sends <paramref name="input"/> from <paramref name="source"/>, closes its sending side, and returns all the node answered.</summary>
    private static async Task<byte[]> PlayAsync(IPEndPoint target, IPAddress source, byte[] input)
    {
        using var socket = await HostileSocket.ConnectAsync(target, source, Timeout);
        await HostileSocket.TrySendAsync(socket, input, Timeout);
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Already closed by the node.
        }

        using var cts = new CancellationTokenSource(Timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int read;
            while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (SocketException)
        {
            // Reset: closed as well.
        }

        return received.ToArray();
    }

    private static List<byte[]> Frames(byte[] bytes)
    {
        var frames = new List<byte[]>();
        var buffer = new ReadOnlySequence<byte>(bytes);
        while (FrameCodec.TryReadFrame(ref buffer, HandshakeMessages.MaxHandshakeFrameBytes, out var payload))
        {
            frames.Add(payload.ToArray());
        }

        buffer.Length.Should().Be(0, "the node writes whole frames");
        return frames;
    }

    /// <summary>The corpus of a fuzz target, read from the source tree next to the test assemblies.</summary>
    private static IReadOnlyList<byte[]> Corpus(string target)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var folder = Path.Combine(directory.FullName, "LibCluster.Net.Tests", "Fuzz", "Corpus", target);
            if (Directory.Exists(folder))
            {
                return Directory.EnumerateFiles(folder, "*.bin").Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToArray();
            }
        }

        return [];
    }
}
