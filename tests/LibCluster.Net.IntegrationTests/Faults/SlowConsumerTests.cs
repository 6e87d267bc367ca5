using System.Buffers.Binary;
using System.Diagnostics;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// A slow consumer: one mailbox whose handler does not finish, and what it does to the other mailboxes fed by the
/// same connection, to the ticks on that connection and to other connections. (The sender being slowed down with
/// bounded memory is Mesh/BackpressureTests.)
/// </summary>
/// <remarks>
/// What the design says (docs/protocol.md, "Backpressure"): a mailbox queues up to MailboxCapacity messages; a
/// message for a full queue makes the connection's read loop wait, so everything else from that peer waits too
/// (head-of-line blocking). Handlers run on the thread pool, unless registered with <see cref="MailboxOptions.Inline"/>,
/// which runs an idle mailbox's handler on the read loop itself.
/// </remarks>
[Collection(FaultsCollection.Name)]
public sealed class SlowConsumerTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan TickTime = TimeSpan.FromSeconds(1);

    // How long a mailbox or the read loop is held up: that ticks alone keep both sides up this long (and nothing else
    // from the peer arrives meanwhile) is what is under test, so a fixed wait is right.
    private static readonly TimeSpan HoldFor = 3 * TickTime;

    /// <summary>
    /// A handler that waits asynchronously holds only its own mailbox: while it waits and its queue has room, another
    /// mailbox fed by the same connection receives everything at once.
    /// </summary>
    [Fact]
    public async Task SendAsync_OneHandlerAwaitsForeverQueueNotFull_OtherMailboxOnSameConnectionKeepsReceiving()
    {
        const int count = 500;
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a", tickTime: TickTime));
        var b = group.Add(TestNode.Start("b", tickTime: TickTime));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new Sink(1 + count);
        var fast = new Sink(count);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var slowBox = b.Cluster.Register("slow", async (message, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            slow.Add(message);
        });
        using var fastBox = b.Cluster.Register("fast", (message, _) =>
        {
            fast.Add(message);
            return ValueTask.CompletedTask;
        });
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByB = MembershipRecorder.Start(b);

        await a.Cluster.SendAsync(b.Name, "slow", Sink.Payload(-1)).AsTask().WaitAsync(Timeout);
        await entered.Task.WaitAsync(Timeout);
        var sending = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await a.Cluster.SendAsync(b.Name, "slow", Sink.Payload(i)).AsTask().WaitAsync(Timeout);
            await a.Cluster.SendAsync(b.Name, "fast", Sink.Payload(i)).AsTask().WaitAsync(Timeout);
        }

        await fast.All.WaitAsync(Timeout);
        output.WriteLine($"{count} messages to the other mailbox arrived {sending.Elapsed.TotalMilliseconds:0} ms after the first was sent, while the slow handler waited with {count} queued");

        fast.Received.Should().Equal(Enumerable.Range(0, count));
        slow.Received.Should().BeEmpty("the slow handler is still waiting");
        release.SetResult();
        await slow.All.WaitAsync(Timeout);
        slow.Received.Should().Equal(Enumerable.Range(-1, 1 + count));
        seenByA.Snapshot().Should().ContainSingle().Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
        seenByB.Snapshot().Should().ContainSingle().Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
    }

    /// <summary>
    /// Once the waiting mailbox's queue is full, the connection stops reading: another mailbox gets nothing more from
    /// that peer, and neither do this node's requests to it (their replies wait behind the full queue), but the ticks
    /// keep both sides up for three TickTimes and another peer's messages to the same mailbox flow. Released, every
    /// message arrives, in order.
    /// </summary>
    [Fact]
    public async Task SendAsync_OneMailboxQueueFull_ConnectionWaitsForEveryMailboxButTicksAndOtherPeersFlow()
    {
        const int extra = 10;
        const int others = 20;
        var slowCount = 1 + MailboxRegistry.DefaultCapacity + extra;
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a", tickTime: TickTime));
        var b = group.Add(TestNode.Start("b", tickTime: TickTime));
        var c = group.Add(TestNode.Start("c", tickTime: TickTime));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = new Sink(slowCount);
        var fastFromA = new Sink(others);
        var fastFromC = new Sink(others);
        using var slowBox = b.Cluster.Register("slow", async (message, _) =>
        {
            await release.Task;
            slow.Add(message);
        });
        using var fastBox = b.Cluster.Register("fast", (message, _) =>
        {
            (message.From == a.Name ? fastFromA : fastFromC).Add(message);
            return ValueTask.CompletedTask;
        });
        using var echoOnA = a.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await c.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => b.Manager.IsConnected(a.Name) && b.Manager.IsConnected(c.Name), Timeout, "b sees a and c");
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByB = MembershipRecorder.Start(b);
        await using var seenByC = MembershipRecorder.Start(c);

        // One message in the handler, a full queue, and a few more: b's read loop for a now waits for room.
        for (var i = 0; i < slowCount; i++)
        {
            await a.Cluster.SendAsync(b.Name, "slow", Sink.Payload(i - 1)).AsTask().WaitAsync(Timeout);
        }

        for (var i = 0; i < others; i++)
        {
            await a.Cluster.SendAsync(b.Name, "fast", Sink.Payload(i)).AsTask().WaitAsync(Timeout);
        }

        // Sent after a's: c's messages to the same mailbox arrive over their own connection.
        for (var i = 0; i < others; i++)
        {
            await c.Cluster.SendAsync(b.Name, "fast", Sink.Payload(i)).AsTask().WaitAsync(Timeout);
        }

        await fastFromC.All.WaitAsync(Timeout);
        var reply = async () => await b.Cluster.RequestAsync(a.Name, "echo", "ping"u8.ToArray(), TimeSpan.FromMilliseconds(500)).AsTask().WaitAsync(Timeout);
        await reply.Should().ThrowAsync<ClusterRequestTimeoutException>("the reply from a waits behind the full queue on the same connection");

        // Three TickTimes with b reading nothing from a: ticks keep both sides up.
        var hold = Stopwatch.StartNew();
        await Task.Delay(HoldFor);

        var fastDuringHold = fastFromA.Received.Count;
        output.WriteLine($"while 'slow' was full for {hold.Elapsed.TotalSeconds:0.0} s: 'fast' got {fastDuringHold} of {others} messages from a (same connection) and {fastFromC.Received.Count} of {others} from c (another connection)");
        fastDuringHold.Should().Be(0, "everything a sends after the message that found the queue full waits behind it (no per-mailbox isolation)");
        seenByA.Snapshot().Should().ContainSingle("a blocked mailbox on b is not a dead connection").Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
        seenByB.Snapshot().Should().HaveCount(2, "b keeps a and c").And.OnlyContain(ch => ch.Kind == MembershipChangeKind.NodeUp);
        seenByC.Snapshot().Should().ContainSingle().Which.Kind.Should().Be(MembershipChangeKind.NodeUp);

        var released = Stopwatch.StartNew();
        release.SetResult();
        await slow.All.WaitAsync(Timeout);
        await fastFromA.All.WaitAsync(Timeout);
        output.WriteLine($"after the release: all {slowCount} queued and {others} held-up messages handled in {released.Elapsed.TotalMilliseconds:0} ms");
        slow.Received.Should().Equal(Enumerable.Range(-1, slowCount));
        fastFromA.Received.Should().Equal(Enumerable.Range(0, others));
        fastFromC.Received.Should().Equal(Enumerable.Range(0, others));
        var echo = await b.Cluster.RequestAsync(a.Name, "echo", "ping"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
        echo.Payload.ToArray().Should().Equal("ping"u8.ToArray());
    }

    /// <summary>
    /// A handler that blocks its thread (synchronous I/O, a lock, <c>Task.Wait</c>) holds only its own mailbox: it runs
    /// on the thread pool, so another mailbox fed by the same connection keeps receiving.
    /// </summary>
    /// <remarks>It failed before commit bbc3752, when idle mailboxes ran their handler on the read loop.</remarks>
    [Fact]
    public async Task SendAsync_HandlerBlocksItsThread_OtherMailboxOnSameConnectionKeepsReceiving()
    {
        const int count = 50;
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a", tickTime: TickTime));
        var b = group.Add(TestNode.Start("b", tickTime: TickTime));
        using var gate = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocking = new Sink(1);
        var fast = new Sink(count);
        using var blockingBox = b.Cluster.Register("blocking", (message, _) =>
        {
            entered.TrySetResult();
            gate.Wait(Timeout);
            blocking.Add(message);
            return ValueTask.CompletedTask;
        });
        using var fastBox = b.Cluster.Register("fast", (message, _) =>
        {
            fast.Add(message);
            return ValueTask.CompletedTask;
        });
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        try
        {
            await a.Cluster.SendAsync(b.Name, "blocking", Sink.Payload(0)).AsTask().WaitAsync(Timeout);
            await entered.Task.WaitAsync(Timeout);
            var sending = Stopwatch.StartNew();
            for (var i = 0; i < count; i++)
            {
                await a.Cluster.SendAsync(b.Name, "fast", Sink.Payload(i)).AsTask().WaitAsync(Timeout);
            }

            var arrived = async () => await fast.All.WaitAsync(TimeSpan.FromSeconds(2));
            await arrived.Should().NotThrowAsync("a blocked handler holds only its own mailbox");
            output.WriteLine($"while one handler blocked its thread, {count} messages to another mailbox on the same connection arrived within {sending.Elapsed.TotalMilliseconds:0} ms");
            fast.Received.Should().Equal(Enumerable.Range(0, count));
        }
        finally
        {
            gate.Set();
        }

        await blocking.All.WaitAsync(Timeout);
    }

    /// <summary>
    /// A handler registered with <see cref="MailboxOptions.Inline"/> runs on the connection's read loop; if it breaks
    /// that option's contract and blocks its thread for three TickTimes, nothing else is read from that peer, other
    /// mailboxes included (as documented), but the ticks keep both sides up, and when it returns every message to
    /// every mailbox arrives, in order.
    /// </summary>
    [Fact]
    public async Task SendAsync_InlineHandlerBlocksTheReadLoopForThreeTickTimes_NoNodeDownAndEverythingArrivesInOrder()
    {
        const int count = 50;
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a", tickTime: TickTime));
        var b = group.Add(TestNode.Start("b", tickTime: TickTime));
        using var gate = new ManualResetEventSlim();
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocking = new Sink(1);
        var fast = new Sink(count);
        using var blockingBox = b.Cluster.Register(
            "blocking",
            (message, _) =>
            {
                entered.TrySetResult();
                gate.Wait(Timeout);
                blocking.Add(message);
                return ValueTask.CompletedTask;
            },
            MailboxOptions.Inline);
        using var fastBox = b.Cluster.Register("fast", (message, _) =>
        {
            fast.Add(message);
            return ValueTask.CompletedTask;
        });
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByB = MembershipRecorder.Start(b);

        try
        {
            await a.Cluster.SendAsync(b.Name, "blocking", Sink.Payload(0)).AsTask().WaitAsync(Timeout);
            await entered.Task.WaitAsync(Timeout);
            for (var i = 0; i < count; i++)
            {
                await a.Cluster.SendAsync(b.Name, "fast", Sink.Payload(i)).AsTask().WaitAsync(Timeout);
            }

            var hold = Stopwatch.StartNew();
            await Task.Delay(HoldFor);

            var fastDuringHold = fast.Received.Count;
            output.WriteLine($"while an inline handler blocked the read loop for {hold.Elapsed.TotalSeconds:0.0} s, another mailbox on the same connection got {fastDuringHold} of {count} messages");
            fastDuringHold.Should().Be(0, "an inline handler runs on the read loop: nothing else from that peer is read meanwhile");
            seenByA.Snapshot().Should().ContainSingle("a handler blocking b's read loop is not a dead connection").Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
            seenByB.Snapshot().Should().ContainSingle("b's own handler stopped the reading, which is no reason to drop a").Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
        }
        finally
        {
            gate.Set();
        }

        await blocking.All.WaitAsync(Timeout);
        await fast.All.WaitAsync(Timeout);
        fast.Received.Should().Equal(Enumerable.Range(0, count));
    }

    /// <summary>
    /// A peer crashes (its socket is reset) while this node's reading from it is paused by a full mailbox. Reading is
    /// paused, so the tick check counts every interval as life; the loss is found when TCP reports the connection
    /// broken: the next TICK this node writes fails, the node closes the connection and publishes NodeDown, without
    /// waiting for the handler.
    /// </summary>
    /// <remarks>
    /// It failed before commit bbc3752, when the failed send was ignored: the dead peer stayed in ConnectedNodes, no
    /// NodeDown was published, and SendAsync to it threw NodeDownException, until the handler returned.
    /// </remarks>
    [Fact]
    public async Task SendAsync_PeerResetsWhileReadingIsPausedByFullMailbox_NodeDownWithoutWaitingForTheHandler()
    {
        await using var group = new NodeGroup();
        var b = group.Add(TestNode.Start("b", tickTime: TickTime));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var slowBox = b.Cluster.Register("slow", async (_, _) => await release.Task);
        using var received = new ReceivedCounter();
        await using var seenByB = MembershipRecorder.Start(b);
        var peerName = NodeName.Parse("crashing@127.0.0.1");
        var socket = await RawTcp.ConnectAsync(b, Timeout);
        var pipe = new LibCluster.Mesh.Transport.SocketPipe(socket, 1024 * 1024);
        try
        {
            using (var handshake = new CancellationTokenSource(Timeout))
            {
                var outcome = await new LibCluster.Mesh.Handshake.HandshakeProtocol(TestNode.Cookie, peerName, 0x0C0A_5400).InitiateAsync(pipe, b.Name, handshake.Token);
                outcome.Verdict.Should().Be(LibCluster.Mesh.Handshake.HandshakeVerdict.Ok);
            }

            await seenByB.WaitForAsync(MembershipChangeKind.NodeUp, peerName, Timeout);

            // One message in the handler, a full queue, one more: b's read loop waits for room and reads nothing else.
            var messages = 1 + MailboxRegistry.DefaultCapacity + 1;
            for (var i = 0; i < messages; i++)
            {
                LibCluster.Mesh.Framing.MessageFrames.WriteMessage(pipe.Output, 0, "slow", Sink.Payload(i));
            }

            await pipe.Output.FlushAsync().AsTask().WaitAsync(Timeout);
            await Eventually.TrueAsync(() => received.Count >= messages, Timeout, $"b has taken {messages} messages off the connection");

            var crashed = Stopwatch.GetTimestamp();
            socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            socket.Dispose();

            var down = await seenByB.WaitForAsync(MembershipChangeKind.NodeDown, peerName, 3 * TickTime);
            var detected = Stopwatch.GetElapsedTime(crashed, down.Timestamp);
            output.WriteLine($"a peer reset while b's reading from it was paused: NodeDown ({down.Change.Reason}) {detected.TotalMilliseconds:0} ms later (TickTime {TickTime.TotalSeconds:0} s, a TICK every {(TickTime / 4).TotalMilliseconds:0} ms)");

            down.Change.Reason.Should().Be(DisconnectReasons.ConnectionClosed);
            detected.Should().BeLessThan(TickTime, "the first TICK after the reset fails, and that ends the connection");
            b.Cluster.ConnectedNodes.Should().NotContain(peerName);
            var send = async () => await b.Cluster.SendAsync(peerName, "anything", new byte[1]).AsTask().WaitAsync(Timeout);
            (await send.Should().ThrowAsync<NodeDownException>()).Which.Message.Should().Contain("not_connected");
            release.SetResult();
        }
        finally
        {
            release.TrySetResult();
            await pipe.DisposeAsync();
        }
    }

    /// <summary>Counts the messages nodes of this process have taken off their connections (<c>libcluster.messages.received</c>).</summary>
    private sealed class ReceivedCounter : IDisposable
    {
        private readonly System.Diagnostics.Metrics.MeterListener _listener = new();
        private long _count;

        public ReceivedCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "LibCluster.Net" && instrument.Name == "libcluster.messages.received")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, value));
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>Collects the sequence numbers a mailbox received, in the order its handler saw them.</summary>
    private sealed class Sink(int expected)
    {
        private readonly List<int> _received = [];
        private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task All => _all.Task;

        public IReadOnlyList<int> Received
        {
            get
            {
                lock (_received)
                {
                    return [.. _received];
                }
            }
        }

        public static byte[] Payload(int sequence)
        {
            var payload = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(payload, sequence);
            return payload;
        }

        public void Add(ClusterMessage message)
        {
            lock (_received)
            {
                _received.Add(BinaryPrimitives.ReadInt32BigEndian(message.Payload.Span));
                if (_received.Count == expected)
                {
                    _all.TrySetResult();
                }
            }
        }
    }
}
