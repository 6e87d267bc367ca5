using System.Buffers.Binary;
using System.Diagnostics;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

[Collection(TimingSensitive.Name)]
public sealed class BackpressureTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan TickTime = TimeSpan.FromSeconds(1);

    // How long the receiving handler is held while the sender is stuck: this duration is what is under test (no side
    // may declare the other dead meanwhile), so a fixed wait is right.
    private static readonly TimeSpan HoldHandlerFor = 3 * TickTime;

    // How often the managed heap is weighed during that hold, for its peak.
    private static readonly TimeSpan MemorySampleInterval = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task SendAsync_ReceivingHandlerBlocked_SenderWaitsMemoryBoundedNoNodeDownThenAllArriveInOrder()
    {
        const int messageBytes = 64 * 1024;
        // Far more than the buffers between the two handlers hold (the mailbox queue of 16 MiB at most, a batch in the
        // handler's hands, the sender's output pipe of 1 MiB and the sockets' buffers), so the sender must stop.
        const int count = 4_000;
        const long memoryBound = 200L * 1024 * 1024;
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a", tickTime: TickTime));
        var b = group.Add(TestNode.Start("b", tickTime: TickTime));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new List<int>(count);
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = b.Cluster.Register("slow", async (message, _) =>
        {
            await release.Task;
            received.Add(BinaryPrimitives.ReadInt32BigEndian(message.Payload.Span));
            if (received.Count == count)
            {
                allArrived.TrySetResult();
            }
        });
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => b.Manager.IsConnected(a.Name), Timeout, "b sees a");
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByB = MembershipRecorder.Start(b);
        var memoryAtStart = GC.GetTotalMemory(forceFullCollection: true);

        var sent = 0;
        long waitingSince = 0;
        var sending = Task.Run(async () =>
        {
            var payload = new byte[messageBytes];
            for (var i = 0; i < count; i++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, i);
                var send = a.Cluster.SendAsync(b.Name, "slow", payload);
                if (!send.IsCompleted)
                {
                    Volatile.Write(ref waitingSince, Stopwatch.GetTimestamp());
                    await send;
                    Volatile.Write(ref waitingSince, 0);
                }
                else
                {
                    await send;
                }

                Volatile.Write(ref sent, i + 1);
            }
        });

        // The sender gets stuck once the buffers are full: one SendAsync stays incomplete. (Past what the mailbox
        // queues, 1024 messages or 16 MiB, whichever comes first, and waiting a whole second, so that a pause of the
        // machine is not mistaken for it.)
        var queueBound = Math.Min(MailboxRegistry.DefaultCapacity, MailboxRegistry.DefaultMaxQueuedBytes / messageBytes);
        await Eventually.TrueAsync(
            () => sending.IsCompleted
                || (Volatile.Read(ref sent) > queueBound
                    && Volatile.Read(ref waitingSince) is var since and > 0
                    && Stopwatch.GetElapsedTime(since) > TimeSpan.FromSeconds(1)),
            Timeout,
            "a SendAsync past the mailbox's capacity has been waiting for a second");
        sending.IsCompleted.Should().BeFalse("a sender must wait for a slow receiver instead of buffering everything");
        var sentWhenStuck = Volatile.Read(ref sent);

        // Hold the handler for three tick times: neither side may declare the other dead, memory must stay bounded,
        // and the sender must stay stuck.
        var peakGrowth = 0L;
        var hold = Stopwatch.StartNew();
        while (hold.Elapsed < HoldHandlerFor)
        {
            peakGrowth = Math.Max(peakGrowth, GC.GetTotalMemory(forceFullCollection: false) - memoryAtStart);
            await Task.Delay(MemorySampleInterval);
        }

        // (A watcher starts with a NodeUp for each node already connected; after that, nothing may happen.)
        seenByA.Snapshot().Should().ContainSingle("a blocked handler on b is not a dead connection").Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
        seenByB.Snapshot().Should().ContainSingle("b's reading is paused by its own handler, which is no reason to drop a").Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
        peakGrowth.Should().BeLessThan(memoryBound, "the buffers between sender and handler are bounded");
        Volatile.Read(ref sent).Should().Be(sentWhenStuck, "nothing more can be sent while the handler holds everything up");
        sentWhenStuck.Should().BeLessThan(count);
        sending.IsCompleted.Should().BeFalse();

        release.SetResult();
        await sending.WaitAsync(Timeout);
        await allArrived.Task.WaitAsync(Timeout);

        received.Should().Equal(Enumerable.Range(0, count));
        seenByA.Snapshot().Should().ContainSingle();
        seenByB.Snapshot().Should().ContainSingle();
    }

    /// <summary>
    /// A stop must not wait for a handler that is stuck: the handler is cancelled by the stop, but the connection's
    /// read loop, blocked while handing a message to the full mailbox, is awaited before the mailboxes are stopped.
    /// </summary>
    [Fact]
    public async Task DisposeAsync_ReadLoopBlockedOnFullMailbox_StopsPromptly()
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        var b = group.Add(TestNode.Start("b"));
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stuck = b.Cluster.Register("stuck", async (_, ct) =>
        {
            entered.TrySetResult();
            await Task.Delay(System.Threading.Timeout.Infinite, ct);
        });
        using var echo = b.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        // One message in the handler, a full queue behind it, and more waiting: b's read loop is now blocked.
        for (var i = 0; i < MailboxRegistry.DefaultCapacity + 10; i++)
        {
            await a.Cluster.SendAsync(b.Name, "stuck", new byte[16]).AsTask().WaitAsync(Timeout);
        }

        await entered.Task.WaitAsync(Timeout);
        var probe = async () => await a.Cluster.RequestAsync(b.Name, "echo", "x"u8.ToArray(), TimeSpan.FromMilliseconds(300)).AsTask().WaitAsync(Timeout);
        await probe.Should().ThrowAsync<ClusterRequestTimeoutException>("b reads nothing more from a while the mailbox is full (head-of-line blocking)");

        await NodeGroup.StopAsync(b, TimeSpan.FromSeconds(5));
    }
}
