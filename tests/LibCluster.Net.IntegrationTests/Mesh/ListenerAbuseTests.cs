using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.IntegrationTests.Mesh;

/// <summary>
/// Bytes that are not a well-behaved peer, sent to a node's listener: each bad connection is closed and logged (the
/// first per address and minute; Hostile.WarningFloodTests checks the rest are counted), and the node keeps serving
/// the peer it already has (checked with a request round trip after every attack).
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class ListenerAbuseTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // Event ids of ConnectionManager's log messages.
    private const int InboundHandshakeFailed = 1004;
    private const int TooManyHandshakes = 1006;

    public static TheoryData<string> Garbage => ["http", "random", "short-frame", "hello-bad-magic", "hello-bad-name"];

    [Theory]
    [MemberData(nameof(Garbage))]
    public async Task Listener_GarbageBytes_ClosedAtOnceAndConnectedPeerStillServed(string kind)
    {
        await using var setup = await TargetWithPeerAsync(handshakeTimeout: TimeSpan.FromSeconds(5));
        var (bytes, reason) = kind switch
        {
            "http" => (Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), "frame_too_large"),
            "random" => (RandomBytes(4096, seed: 4711), "frame_too_large"),
            "short-frame" => (RawTcp.Frame(RandomBytes(40, seed: 42)), "bad_handshake"),
            "hello-bad-magic" => (WithByte(RawTcp.HelloFrame(NodeName.Parse("x@127.0.0.1")), 4 + 1, 0x00), "bad_handshake"),
            "hello-bad-name" => (HelloWithName("no-at-sign"), "bad_handshake"),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        using var socket = await RawTcp.ConnectAsync(setup.Target, Timeout);
        var clock = Stopwatch.StartNew();

        await socket.SendAsync(bytes, SocketFlags.None).WaitAsync(Timeout);
        var answered = await RawTcp.ReadUntilClosedAsync(socket, Timeout);

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1), "the handshake parser rejects it at once, long before the 5 s handshake timeout");
        answered.Should().Be(0, "a stranger that speaks no HELLO is told nothing");
        await setup.AssertStillServedAsync();
        setup.FailedHandshakeReasons().Should().Equal(reason);
    }

    /// <summary>A HELLO of a version the node does not speak, or claiming the node's own name, gets a STATUS and is closed.</summary>
    [Theory]
    [InlineData("unsupported-version", (byte)HandshakeStatus.UnsupportedVersion, "unsupported_version")]
    [InlineData("own-name", (byte)HandshakeStatus.NotAllowed, "name_in_use")]
    public async Task Listener_HelloItCannotAccept_StatusThenClosedAndPeerStillServed(string kind, byte status, string reason)
    {
        await using var setup = await TargetWithPeerAsync(handshakeTimeout: TimeSpan.FromSeconds(5));
        var hello = kind == "own-name"
            ? RawTcp.HelloFrame(setup.Target.Name)
            : WithByte(RawTcp.HelloFrame(NodeName.Parse("future@127.0.0.1")), 4 + 1 + 4 + 1, 0x02); // version 2
        using var socket = await RawTcp.ConnectAsync(setup.Target, Timeout);
        var clock = Stopwatch.StartNew();

        await socket.SendAsync(hello, SocketFlags.None).WaitAsync(Timeout);
        var answer = await ReadAllUntilClosedAsync(socket);

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1));
        answer.Should().Equal(RawTcp.Frame(HandshakeMessages.EncodeStatus((HandshakeStatus)status)), "the peer is told why before the node closes");
        await setup.AssertStillServedAsync();
        setup.FailedHandshakeReasons().Should().Equal(reason);
    }

    [Fact]
    public async Task Listener_FourGiBLengthPrefix_ClosedAtOnceWithoutBuffering()
    {
        await using var setup = await TargetWithPeerAsync(handshakeTimeout: TimeSpan.FromSeconds(5));
        using var socket = await RawTcp.ConnectAsync(setup.Target, Timeout);
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();

        // Announce 4 GiB, then keep pushing (up to 64 MiB) for as long as the node lets us.
        var pushed = await PushAsync(socket, [0xFF, 0xFF, 0xFF, 0xFF], 64 * 1024 * 1024);
        await RawTcp.ReadUntilClosedAsync(socket, Timeout);

        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(1), "the length is checked as soon as the header is read");
        pushed.Should().BeLessThan(64 * 1024 * 1024, "the node closed the connection instead of reading on");
        var growth = GC.GetTotalMemory(forceFullCollection: true) - memoryBefore;
        growth.Should().BeLessThan(16 * 1024 * 1024, "nothing of the announced 4 GiB is allocated or kept");
        await setup.AssertStillServedAsync();
        setup.FailedHandshakeReasons().Should().Equal("frame_too_large");
    }

    [Fact]
    public async Task Listener_HalfAHandshakeThenSilence_ClosedAfterHandshakeTimeout()
    {
        var handshakeTimeout = TimeSpan.FromMilliseconds(500);
        await using var setup = await TargetWithPeerAsync(handshakeTimeout);
        using var socket = await RawTcp.ConnectAsync(setup.Target, Timeout);
        var clock = Stopwatch.StartNew();

        await socket.SendAsync(RawTcp.HelloFrame(NodeName.Parse("halfway@127.0.0.1")), SocketFlags.None).WaitAsync(Timeout);
        var answered = await RawTcp.ReadUntilClosedAsync(socket, Timeout);

        answered.Should().BeGreaterThan(0, "a valid HELLO is answered with STATUS and CHALLENGE");
        clock.Elapsed.Should().BeGreaterThanOrEqualTo(handshakeTimeout - TimeSpan.FromMilliseconds(50), "the node waits for the REPLY until the handshake timeout")
            .And.BeLessThan(TimeSpan.FromSeconds(2));
        await Eventually.TrueAsync(() => setup.Target.Manager.PendingInboundHandshakes == 0, Timeout, "the handshake slot is given back");
        await setup.AssertStillServedAsync();
        setup.FailedHandshakeReasons().Should().Equal("timeout");
        setup.Target.Cluster.ConnectedNodes.Should().Equal(setup.Peer.Name);
    }

    [Fact]
    public async Task Listener_300IdleConnections_ExtraClosedOnArrivalRestAfterTimeoutAndNodeStillAcceptsPeers()
    {
        const int connections = 300;
        const int maxPending = 64;
        // Long enough to tell "closed on arrival" from "closed by the timeout" even on a slow machine.
        var handshakeTimeout = TimeSpan.FromSeconds(2);
        await using var setup = await TargetWithPeerAsync(handshakeTimeout, maxPending);
        var clock = Stopwatch.StartNew();

        var sockets = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => RawTcp.ConnectAsync(setup.Target, Timeout))).WaitAsync(Timeout);
        try
        {
            var closedAt = sockets.Select(async s =>
            {
                await RawTcp.ReadUntilClosedAsync(s, Timeout);
                return clock.Elapsed;
            }).ToArray();

            await Eventually.TrueAsync(() => setup.Target.Manager.PendingInboundHandshakes == maxPending, Timeout, $"{maxPending} connections hold every handshake slot");
            await setup.AssertStillServedAsync();
            var times = await Task.WhenAll(closedAt).WaitAsync(Timeout);

            var early = times.Count(t => t < handshakeTimeout / 2);
            var late = times.Where(t => t >= handshakeTimeout / 2).ToArray();
            early.Should().Be(connections - maxPending, "connections beyond the cap are closed as they arrive");
            late.Should().HaveCount(maxPending).And.OnlyContain(t => t >= handshakeTimeout - TimeSpan.FromMilliseconds(100), "the ones holding a slot are closed by the handshake timeout");
            await Eventually.TrueAsync(() => setup.Target.Manager.PendingInboundHandshakes == 0, Timeout, "every handshake slot is given back");
            // One line each: both warnings are throttled per address, and every connection comes from 127.0.0.1.
            setup.Logs.WithEventId(TooManyHandshakes).Should().ContainSingle();
            setup.FailedHandshakeReasons().Should().Equal("timeout");
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        await setup.AssertStillServedAsync();
        var latecomer = setup.Group.Add(TestNode.Start("latecomer"));
        await latecomer.Cluster.ConnectAsync(setup.Target.Address).AsTask().WaitAsync(Timeout);
        var reply = await latecomer.Cluster.RequestAsync(setup.Target.Name, "echo", "late"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
        reply.Payload.ToArray().Should().Equal("late"u8.ToArray());
    }

    private static async Task<Setup> TargetWithPeerAsync(TimeSpan handshakeTimeout, int maxPendingHandshakes = 64)
    {
        var logs = new LogCollector();
        var group = new NodeGroup();
        var target = group.Add(TestNode.Start("target", loggers: logs.Factory, handshakeTimeout: handshakeTimeout, maxPendingHandshakes: maxPendingHandshakes));
        var peer = group.Add(TestNode.Start("peer"));
        var echo = target.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => target.Manager.IsConnected(peer.Name), Timeout, "target sees peer");
        return new Setup(group, target, peer, logs, echo);
    }

    private sealed record Setup(NodeGroup Group, TestNode Target, TestNode Peer, LogCollector Logs, IDisposable Echo) : IAsyncDisposable
    {
        public async Task AssertStillServedAsync()
        {
            var reply = await Peer.Cluster.RequestAsync(Target.Name, "echo", "ping"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
            reply.Payload.ToArray().Should().Equal("ping"u8.ToArray(), "the node keeps serving the peer it already has");
            Target.Cluster.ConnectedNodes.Should().Contain(Peer.Name);
        }

        /// <summary>The reasons of the failed inbound handshakes the target logged, as warnings.</summary>
        public IReadOnlyList<string?> FailedHandshakeReasons()
        {
            var entries = Logs.WithEventId(InboundHandshakeFailed);
            entries.Should().OnlyContain(e => e.Level == LogLevel.Warning && e.Value("RemoteEndPoint") != null);
            return entries.Select(e => e.Value("Reason")).ToArray();
        }

        public async ValueTask DisposeAsync()
        {
            Echo.Dispose();
            await Group.DisposeAsync();
            Logs.Factory.Dispose();
        }
    }

    private static byte[] RandomBytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] WithByte(byte[] bytes, int index, byte value)
    {
        bytes[index] = value;
        return bytes;
    }

    /// <summary>A HELLO whose name field holds <paramref name="name"/>, which need not be a valid node name.</summary>
    private static byte[] HelloWithName(string name)
    {
        var valid = HandshakeMessages.EncodeHello(new HandshakeIdentity(NodeName.Parse("x@y"), 1, 0, new byte[HandshakeMessages.NonceSize]));
        var nameBytes = Encoding.ASCII.GetBytes(name);
        var hello = new byte[valid.Length - 3 + nameBytes.Length];
        valid.AsSpan(0, valid.Length - 4).CopyTo(hello);
        hello[valid.Length - 4] = (byte)nameBytes.Length;
        nameBytes.CopyTo(hello, valid.Length - 3);
        return RawTcp.Frame(hello);
    }

    private static async Task<byte[]> ReadAllUntilClosedAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var received = new MemoryStream();
        var buffer = new byte[1024];
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
        }

        return received.ToArray();
    }

    /// <summary>Sends <paramref name="header"/> and then zeros until <paramref name="limit"/> bytes or the node closes.</summary>
    private static async Task<long> PushAsync(Socket socket, byte[] header, long limit)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var chunk = new byte[256 * 1024];
        long pushed = 0;
        try
        {
            pushed += await socket.SendAsync(header, SocketFlags.None, cts.Token);
            while (pushed < limit)
            {
                pushed += await socket.SendAsync(chunk, SocketFlags.None, cts.Token);
            }
        }
        catch (SocketException)
        {
            // Reset or broken pipe: the node has closed the connection.
        }
        catch (OperationCanceledException)
        {
            // The node neither read on nor closed; the checks that follow say so.
        }

        return pushed;
    }
}
