using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh.Framing;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// A peer that knows the cookie and then misbehaves: floods a mailbox that does not exist, announces frames larger than
/// the node accepts, sends malformed frames. The node drops or refuses, counts, logs without flooding, keeps its memory
/// and threads bounded, and keeps serving its other peers meanwhile.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class AuthenticatedPeerAbuseTests(ITestOutputHelper output)
{
    private const int NoMailboxEvent = 3001;
    private const int ProtocolErrorEvent = 1101;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly IPAddress Abuser = IPAddress.Parse("127.0.0.6");

    [Fact]
    public async Task Connection_FloodOfSendsToAMailboxThatDoesNotExist_DroppedCountedNeverWarnedAndMemoryBounded()
    {
        const int messages = 100_000;
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await using var flooder = await HostilePeer.ConnectAsync(target.EndPoint, Abuser, Timeout);
        await flooder.HandshakeAsync(target.Name, "flooder", TestNode.Cookie, Timeout);
        flooder.StartReading();
        var before = ProcessFootprint.Measure();

        var batch = Batch(messages / 100, (writer, i) => MessageFrames.WriteMessage(writer, 0, "nowhere", BitConverter.GetBytes((long)i)));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var roundTrips = 0;
        var flood = Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await flooder.SendRawAsync(batch, Timeout);
            }
        });
        for (var i = 0; !flood.IsCompleted && i < 1000; i++)
        {
            await target.AssertServesAsync(peer, Timeout, $"round trip {i} during the flood");
            roundTrips++;
        }

        await flood.WaitAsync(Timeout);
        await Eventually.TrueAsync(() => target.Mailboxes.DroppedMessages == messages, Timeout, "every message for the missing mailbox is dropped and counted");
        var dropped = clock.Elapsed;

        target.Counters.MessagesReceived.Should().BeGreaterThanOrEqualTo(messages);
        target.Log.Count(NoMailboxEvent, LogLevel.Debug).Should().Be(messages, "each drop is a Debug line (event 3001)");
        target.Log.CountAtLeast(LogLevel.Warning).Should().Be(0, "a flood of messages for a missing mailbox raises no warning");
        target.Manager.IsConnected(NodeName.Parse("flooder@127.0.0.1")).Should().BeTrue("dropping a message is not a protocol error");
        await target.AssertServesAsync(peer, Timeout, "after the flood");
        var after = ProcessFootprint.Measure();
        output.WriteLine($"{messages} dropped in {dropped.TotalMilliseconds:0} ms, {roundTrips} round trips meanwhile; before {before}, after {after}");
        (after.ManagedBytes - before.ManagedBytes).Should().BeLessThan(16 * 1024 * 1024, $"memory is bounded ({before} before, {after} after)");
        (after.Threads - before.Threads).Should().BeLessThan(20, $"threads are bounded ({before} before, {after} after)");
    }

    /// <summary>
    /// Requests for a missing mailbox are answered with <c>no_mailbox</c> by a task that is not awaited; a peer that never
    /// reads the answers makes those tasks pile up, each waiting for the connection's write lock. Measured before the fix:
    /// 2,000,000 such requests (30 MB on the wire) left 1.2 GB of managed memory held on the node.
    /// </summary>
    [Fact]
    public async Task Connection_FloodOfRequestsToAMissingMailboxFromAPeerThatNeverReads_MemoryStaysBounded()
    {
        const int requests = 1_000_000;
        await using var target = HostileTarget.Start();
        await using var flooder = await HostilePeer.ConnectAsync(target.EndPoint, Abuser, Timeout);
        await flooder.HandshakeAsync(target.Name, "deaf", TestNode.Cookie, Timeout);
        var before = ProcessFootprint.Measure();

        var batch = Batch(requests / 100, (writer, i) => MessageFrames.WriteMessage(writer, (ulong)i + 1, "x", []));
        for (var i = 0; i < 100; i++)
        {
            await flooder.SendRawAsync(batch, Timeout);
        }

        // The node may read them all, close the connection, or stop reading (backpressure: then the wait times out).
        var deaf = NodeName.Parse("deaf@127.0.0.1");
        try
        {
            await Eventually.TrueAsync(() => target.Counters.MessagesReceived >= requests || !target.Manager.IsConnected(deaf), Timeout, "the node has read every request or closed the connection");
        }
        catch (TimeoutException)
        {
        }

        var after = ProcessFootprint.Measure();
        (after.ManagedBytes - before.ManagedBytes).Should().BeLessThan(32 * 1024 * 1024, $"memory is bounded ({before} before, {after} after, {target.Counters.MessagesReceived} requests read)");
    }

    public static TheoryData<uint> OversizedLengths => [8u * 1024 * 1024 + 1, 0x4000_0000u, 0xFFFF_FFFFu];

    [Theory]
    [MemberData(nameof(OversizedLengths))]
    public async Task Connection_FrameAnnouncingMoreThanMaxFrameBytes_ClosedAsProtocolErrorWithoutBufferingIt(uint announced)
    {
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await using var abuser = await HostilePeer.ConnectAsync(target.EndPoint, Abuser, Timeout);
        await abuser.HandshakeAsync(target.Name, "giant", TestNode.Cookie, Timeout);
        abuser.StartReading();
        await Eventually.TrueAsync(() => target.Manager.IsConnected(NodeName.Parse("giant@127.0.0.1")), Timeout, "the abuser is connected");
        var before = ProcessFootprint.Measure();

        var header = new byte[4 + 1 + 64 * 1024];
        BinaryPrimitives.WriteUInt32BigEndian(header, announced);
        header[4] = (byte)FrameType.Send;
        await abuser.SendRawAsync(header, Timeout);
        await abuser.Closed.WaitAsync(Timeout);

        await Eventually.TrueAsync(() => target.Counters.Closed("protocol_error") == 1, Timeout, "the connection is closed as a protocol error");
        var warning = target.Log.WarningsWithEventId(ProtocolErrorEvent).Should().ContainSingle().Which;
        warning.Value("NodeName").Should().Be("giant@127.0.0.1");
        warning.Message.Should().Contain("over the limit");
        target.Cluster.ConnectedNodes.Should().Equal(peer.Name);
        await target.AssertServesAsync(peer, Timeout, "the other peer is still served");
        var after = ProcessFootprint.Measure();
        output.WriteLine($"announced {announced}: before {before}, after {after}");
        (after.ManagedBytes - before.ManagedBytes).Should().BeLessThan(4 * 1024 * 1024, $"nothing of the announced {announced} bytes was buffered ({before} before, {after} after)");
    }

    public static TheoryData<string> MalformedFrames => ["empty", "unknown-type", "tick-with-body", "mailbox-not-utf8", "request-id-zero", "reply-status-9", "mailbox-past-the-end", "random"];

    [Theory]
    [MemberData(nameof(MalformedFrames))]
    public async Task Connection_MalformedDataFrame_ClosedAsProtocolErrorAndOtherPeersServed(string kind)
    {
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await using var abuser = await HostilePeer.ConnectAsync(target.EndPoint, Abuser, Timeout);
        await abuser.HandshakeAsync(target.Name, "malformed", TestNode.Cookie, Timeout);
        abuser.StartReading();
        byte[] payload = kind switch
        {
            "empty" => [],
            "unknown-type" => [0x2A, 1, 2, 3],
            "tick-with-body" => [(byte)FrameType.Tick, 0],
            "mailbox-not-utf8" => [(byte)FrameType.Send, 2, 0xC3, 0x28, 1],
            "request-id-zero" => [(byte)FrameType.Request, 0, 0, 0, 0, 0, 0, 0, 0, 1, (byte)'x'],
            "reply-status-9" => [(byte)FrameType.Reply, 0, 0, 0, 0, 0, 0, 0, 1, 9],
            "mailbox-past-the-end" => [(byte)FrameType.Send, 200, (byte)'x'],
            "random" => [0xF0, .. System.Security.Cryptography.RandomNumberGenerator.GetBytes(300)],
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };

        await abuser.SendRawAsync(RawTcp.Frame(payload), Timeout);
        await abuser.Closed.WaitAsync(Timeout);

        await Eventually.TrueAsync(() => target.Counters.Closed("protocol_error") == 1, Timeout, "the connection is closed as a protocol error");
        target.Log.WarningsWithEventId(ProtocolErrorEvent).Should().ContainSingle().Which.Value("NodeName").Should().Be("malformed@127.0.0.1");
        target.Log.Warnings.Should().HaveCount(1, "one line for one bad frame");
        target.Cluster.ConnectedNodes.Should().Equal(peer.Name);
        await target.AssertServesAsync(peer, Timeout, "the other peer is still served");
    }

    /// <summary><paramref name="count"/> frames written by <paramref name="write"/>, as one buffer.</summary>
    private static byte[] Batch(int count, Action<ArrayBufferWriter<byte>, int> write)
    {
        var writer = new ArrayBufferWriter<byte>();
        for (var i = 0; i < count; i++)
        {
            write(writer, i);
        }

        return writer.WrittenSpan.ToArray();
    }
}
