using System.Diagnostics;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// A network partition between two of three node processes, each on its own host of a namespace LAN: iptables in each
/// of the two namespaces drops everything from the other's address, so both sides see silence (no FIN, no RST).
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class PartitionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TickTime = TimeSpan.FromSeconds(2);

    /// <summary>The reconnect backoff cap of the topology runtime (TopologyRuntimeOptions.ReconnectMaxDelay).</summary>
    private static readonly TimeSpan BackoffCap = TimeSpan.FromSeconds(30);

    /// <summary>What the test host and two cores may add to a measurement: a timer tick late, a line read late.</summary>
    private static readonly TimeSpan SchedulingSlack = TimeSpan.FromSeconds(1);

    // A send still waiting after this long is held up by the partition, not by a send in progress; well under the
    // 0.75 × TickTime the partition takes to be detected at the earliest.
    private static readonly TimeSpan StuckAfter = TimeSpan.FromMilliseconds(250);

    // The partitions' and watches' lengths: each is a duration under test (nothing may change meanwhile, or a short cut
    // must go unnoticed), not a stand-in for a condition, so fixed waits are right.
    private static readonly TimeSpan HoldPartitionFor = TickTime;
    private static readonly TimeSpan ShortPartition = TickTime / 4;
    private static readonly TimeSpan WatchAfterShortPartitionFor = 2 * TickTime;

    [IptablesFact]
    public async Task Partition_TwoOfThreeNodesCutOff_BothSidesSeeTickTimeoutThirdKeepsBothAndHealedMeshHasOneConnection()
    {
        await using var nodes = await LanNodes.CreateAsync(3, TickTime);
        for (var i = 0; i < 3; i++)
        {
            nodes.Start(i);
        }

        for (var i = 0; i < 3; i++)
        {
            await nodes.WaitListeningAsync(i);
        }

        for (var i = 0; i < 3; i++)
        {
            await nodes.WaitConnectedAsync(i, Enumerable.Range(0, 3).Where(j => j != i));
        }

        var (a, b, c) = (nodes[0], nodes[1], nodes[2]);
        var (hostA, hostB) = (nodes.Host(0), nodes.Host(1));
        var marks = new[] { a.Lines.Length, b.Lines.Length, c.Lines.Length };

        // Arm the waits first, then cut: each side's rule drops what arrives from the other.
        var aSeesBDown = WhenLineAsync(a, $"DOWN {b.Name} ", marks[0], 3 * TickTime + LanNodes.Timeout);
        var bSeesADown = WhenLineAsync(b, $"DOWN {a.Name} ", marks[1], 3 * TickTime + LanNodes.Timeout);
        var cutA = Stopwatch.GetTimestamp();
        await Iptables.DropFromAsync(hostA.Namespace, hostB.IPv4).WaitAsync(LanNodes.Timeout);
        var cutAIn = Stopwatch.GetTimestamp();
        var cutB = cutAIn;
        await Iptables.DropFromAsync(hostB.Namespace, hostA.IPv4).WaitAsync(LanNodes.Timeout);
        var cutBIn = Stopwatch.GetTimestamp();

        var (downAtA, whenA) = await aSeesBDown;
        var (downAtB, whenB) = await bSeesADown;

        downAtA.Should().EndWith(" " + DisconnectReasons.TickTimeout);
        downAtB.Should().EndWith(" " + DisconnectReasons.TickTimeout);
        var detectA = Stopwatch.GetElapsedTime(cutA, whenA);
        var detectB = Stopwatch.GetElapsedTime(cutB, whenB);
        output.WriteLine($"detection after the rule went in: {a.Name} {Stopwatch.GetElapsedTime(cutAIn, whenA).TotalSeconds:0.000} s, {b.Name} {Stopwatch.GetElapsedTime(cutBIn, whenB).TotalSeconds:0.000} s (TickTime {TickTime.TotalSeconds:0} s)");

        // From the last byte received, a side gives up between 1.0 and 1.25 × TickTime; on an idle connection the last
        // byte came at most one tick interval (TickTime/4) before the rule went in, so from the rule: between 0.75 and
        // 1.25 × TickTime. The lower check allows 0.5 × TickTime, for a tick that went out late.
        foreach (var detect in new[] { detectA, detectB })
        {
            detect.Should().BeLessThan(1.25 * TickTime + SchedulingSlack, "a silent peer is declared down within 1.25 × TickTime of its last byte");
            detect.Should().BeGreaterThan(0.5 * TickTime, "a peer is not declared down before it has been silent for most of a TickTime");
        }

        // Hold the partition for one more TickTime: the two stay apart, retrying in vain, and the third node, which
        // still hears both, keeps both.
        await Task.Delay(HoldPartitionFor);

        a.ConnectedNodes().Should().BeEquivalentTo([c.Name]);
        b.ConnectedNodes().Should().BeEquivalentTo([c.Name]);
        c.Lines.Skip(marks[2]).Should().BeEmpty("the node that hears both sides sees no change at all");
        a.Lines.Skip(marks[0]).Should().ContainSingle("the cut side loses only the other cut side");
        b.Lines.Skip(marks[1]).Should().ContainSingle();

        var aSeesBUp = WhenLineAsync(a, $"UP {b.Name} ", marks[0], BackoffCap + LanNodes.Timeout);
        var bSeesAUp = WhenLineAsync(b, $"UP {a.Name} ", marks[1], BackoffCap + LanNodes.Timeout);
        var heal = Stopwatch.GetTimestamp();
        await Iptables.UndropFromAsync(hostA.Namespace, hostB.IPv4).WaitAsync(LanNodes.Timeout);
        await Iptables.UndropFromAsync(hostB.Namespace, hostA.IPv4).WaitAsync(LanNodes.Timeout);

        var (_, upAtA) = await aSeesBUp;
        var (_, upAtB) = await bSeesAUp;
        var healed = Stopwatch.GetElapsedTime(heal, new[] { upAtA, upAtB }.Max());
        output.WriteLine($"full mesh again {healed.TotalSeconds:0.000} s after the heal");
        healed.Should().BeLessThan(BackoffCap, "a healed link is dialled again within the reconnect backoff cap");
        await nodes.WaitConnectedAsync(0, [1, 2]);
        await nodes.WaitConnectedAsync(1, [0, 2]);
        await nodes.WaitConnectedAsync(2, [0, 1]);

        // Exactly one TCP connection between the two (a simultaneous dial after the heal leaves one), seen from both
        // namespaces; the losers of a simultaneous connect may take a moment to close.
        int fromA = 0, fromB = 0;
        await Eventually.TrueAsync(
            async () =>
            {
                fromA = await SocketCensus.EstablishedAsync(hostA.Namespace, hostA.IPv4, hostB.IPv4, LanNodes.Port).WaitAsync(LanNodes.Timeout);
                fromB = await SocketCensus.EstablishedAsync(hostB.Namespace, hostB.IPv4, hostA.IPv4, LanNodes.Port).WaitAsync(LanNodes.Timeout);
                return fromA == 1 && fromB == 1;
            },
            LanNodes.Timeout,
            "a and b share exactly one established connection after the heal",
            () => $"established: {fromA} seen from a, {fromB} from b");

        // NodeUp once per side, and the rest of the mesh untouched.
        a.Lines.Skip(marks[0]).Where(l => l.StartsWith($"UP {b.Name} ", StringComparison.Ordinal)).Should().ContainSingle("NodeUp is delivered once per side");
        b.Lines.Skip(marks[1]).Where(l => l.StartsWith($"UP {a.Name} ", StringComparison.Ordinal)).Should().ContainSingle("NodeUp is delivered once per side");
        a.Lines.Skip(marks[0]).Should().HaveCount(2, "a saw b down once and up once: {0}", string.Join(" | ", a.Lines.Skip(marks[0])));
        b.Lines.Skip(marks[1]).Should().HaveCount(2, "b saw a down once and up once: {0}", string.Join(" | ", b.Lines.Skip(marks[1])));
        c.Lines.Skip(marks[2]).Should().BeEmpty();
    }

    /// <summary>
    /// A partition shorter than the tick timeout is not a failure: cut for a quarter of TickTime, then healed, the two
    /// nodes keep their connection (TCP retransmits what was lost) and nobody sees anything, over two TickTimes.
    /// </summary>
    [IptablesFact]
    public async Task Partition_HealedWithinAQuarterOfTickTime_NoNodeDownAndTheConnectionSurvives()
    {
        await using var nodes = await LanNodes.CreateAsync(2, TickTime);
        var (hostA, hostB) = (nodes.Host(0), nodes.Host(1));
        var (a, b) = (nodes.Start(0), nodes.Start(1));
        await nodes.WaitListeningAsync(0);
        await nodes.WaitListeningAsync(1);
        await nodes.WaitConnectedAsync(0, [1]);
        await nodes.WaitConnectedAsync(1, [0]);
        var before = await SocketCensus.ConnectionsAsync(hostA.Namespace, LanNodes.Port).WaitAsync(LanNodes.Timeout);
        var marks = (A: a.Lines.Length, B: b.Lines.Length);

        var cut = Stopwatch.StartNew();
        await Iptables.DropFromAsync(hostA.Namespace, hostB.IPv4).WaitAsync(LanNodes.Timeout);
        await Iptables.DropFromAsync(hostB.Namespace, hostA.IPv4).WaitAsync(LanNodes.Timeout);
        var remaining = ShortPartition - cut.Elapsed;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining);
        }

        await Iptables.UndropFromAsync(hostA.Namespace, hostB.IPv4).WaitAsync(LanNodes.Timeout);
        await Iptables.UndropFromAsync(hostB.Namespace, hostA.IPv4).WaitAsync(LanNodes.Timeout);
        var blip = cut.Elapsed;

        // Two TickTimes after the heal: a late detection would show by then.
        var watched = Stopwatch.StartNew();
        await Task.Delay(WatchAfterShortPartitionFor);

        output.WriteLine($"a partition of {blip.TotalMilliseconds:0} ms (TickTime {TickTime.TotalSeconds:0} s) went unnoticed for {watched.Elapsed.TotalSeconds:0.0} s after it healed");
        a.Lines.Skip(marks.A).Should().BeEmpty("a short partition is not a node down");
        b.Lines.Skip(marks.B).Should().BeEmpty("a short partition is not a node down");
        var after = await SocketCensus.ConnectionsAsync(hostA.Namespace, LanNodes.Port).WaitAsync(LanNodes.Timeout);
        after.Should().Equal(before, "the same TCP connection carries on");
    }

    /// <summary>
    /// What callers see when a partition starts under them: an in-process node has a request in flight to a node
    /// process and a sender stuck on backpressure (the partitioned peer acknowledges nothing, so the output buffer
    /// fills). Both are released when the tick timeout closes the connection, within 1.25 × TickTime, with
    /// NodeDownException naming the reason; neither waits for its own timeout.
    /// </summary>
    [IptablesFact]
    public async Task Partition_RequestInFlightAndSenderBlockedByBackpressure_BothFailWithNodeDownAtDetection()
    {
        await using var nodes = await LanNodes.CreateAsync(2, TickTime);
        var (hostA, hostC) = (nodes.Host(0), nodes.Host(1));
        await using var c = NamespaceNode.Start(hostC.Namespace, nodes.Name(1), hostC.IPv4, LanNodes.Port, TickTime);
        var a = nodes.Start(0);
        await nodes.WaitListeningAsync(0);
        await nodes.WaitConnectedAsync(0, [1]);
        var nameA = NodeName.Parse(a.Name);
        await Eventually.TrueAsync(() => c.Manager.IsConnected(nameA), LanNodes.Timeout, "c sees a");
        var mark = c.Changes.Count;

        var cut = Stopwatch.GetTimestamp();
        await Iptables.DropFromAsync(hostA.Namespace, hostC.IPv4).WaitAsync(LanNodes.Timeout);
        await Iptables.DropFromAsync(hostC.Namespace, hostA.IPv4).WaitAsync(LanNodes.Timeout);

        var request = TimedAsync(() => c.Cluster.RequestAsync(nameA, "echo", "lost"u8.ToArray(), BackoffCap).AsTask());
        var payload = new byte[64 * 1024];
        var sent = 0;
        Task<(Exception? Error, long At)>? blocked = null;
        while (blocked is null && Stopwatch.GetElapsedTime(cut) < TickTime)
        {
            // A mailbox a does not have: whatever arrives there is dropped. Only the buffers matter here. A send
            // can wait a moment while the kernel still takes bytes (its buffer is not full yet); only one that
            // stays waiting is held up by the partition.
            var send = c.Cluster.SendAsync(nameA, "void", payload).AsTask();
            if (!send.IsCompleted && await Task.WhenAny(send, Task.Delay(StuckAfter)) != send)
            {
                blocked = TimedAsync(() => send);
            }
            else
            {
                await send;
                sent++;
            }
        }

        blocked.Should().NotBeNull("a peer that acknowledges nothing fills the buffers and makes the sender wait");
        request.IsCompleted.Should().BeFalse();
        var (requestError, requestFailed) = await request.WaitAsync(BackoffCap + LanNodes.Timeout);
        var (sendError, sendFailed) = await blocked!.WaitAsync(BackoffCap + LanNodes.Timeout);
        var down = await c.Changes.WaitForAsync(ch => ch.Kind == MembershipChangeKind.NodeDown && ch.Node == nameA, LanNodes.Timeout, "c sees a down", mark);
        output.WriteLine($"after {sent} sends of 64 KiB the sender waited; at the tick timeout ({Stopwatch.GetElapsedTime(cut, down.Timestamp).TotalSeconds:0.000} s after the cut) the request failed with '{requestError?.Message}' and the sender with '{sendError?.Message}'");

        down.Change.Reason.Should().Be(DisconnectReasons.TickTimeout);
        foreach (var (error, at) in new[] { (requestError, requestFailed), (sendError, sendFailed) })
        {
            error.Should().BeOfType<NodeDownException>();
            error!.Message.Should().Contain(a.Name).And.Contain(DisconnectReasons.TickTimeout, "the caller learns why the node is down");
            Stopwatch.GetElapsedTime(cut, at).Should().BeLessThan(1.25 * TickTime + SchedulingSlack, "callers are released when the partition is detected");
        }
    }

    private static async Task<(Exception? Error, long At)> TimedAsync(Func<Task> operation)
    {
        try
        {
            await operation().WaitAsync(BackoffCap + LanNodes.Timeout);
            return (null, Stopwatch.GetTimestamp());
        }
        catch (Exception ex) when (ex is ClusterException or TimeoutException)
        {
            return (ex, Stopwatch.GetTimestamp());
        }
    }

    /// <summary>Waits for a line of <paramref name="process"/> that starts with <paramref name="prefix"/>; returns it with the time it was seen.</summary>
    private static async Task<(string Line, long Timestamp)> WhenLineAsync(NodeProcess process, string prefix, int skip, TimeSpan timeout)
    {
        var line = await process.WaitForLineAsync(l => l.StartsWith(prefix, StringComparison.Ordinal), timeout, $"it prints '{prefix}...'", skip);
        return (line, Stopwatch.GetTimestamp());
    }
}
