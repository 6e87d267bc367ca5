using System.Diagnostics;
using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

public sealed class RequestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task RequestAsync_NodeNotConnected_ThrowsNodeDown()
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        var b = group.Add(TestNode.Start("b"));
        using var _ = Echo(b);

        var request = async () => await a.Cluster.RequestAsync(b.Name, "echo", "hi"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);

        var thrown = (await request.Should().ThrowAsync<NodeDownException>()).Which;
        thrown.Node.Should().Be(b.Name);
        thrown.Reason.Should().Be("not_connected");
    }

    [Fact]
    public async Task RequestAsync_NoSuchMailbox_ThrowsMailboxNotFoundAndConnectionStays()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        using var echo = Echo(b);

        var request = async () => await a.Cluster.RequestAsync(b.Name, "nobody-home", "hi"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);

        var thrown = (await request.Should().ThrowAsync<MailboxNotFoundException>()).Which;
        thrown.Node.Should().Be(b.Name);
        thrown.Mailbox.Should().Be("nobody-home");
        await AssertEchoWorksAsync(a, b);
    }

    [Fact]
    public async Task RequestAsync_HandlerThrows_ThrowsRemoteHandlerWithMessageAndConnectionStays()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        await using var seenByA = MembershipRecorder.Start(a);
        using var echo = Echo(b);
        using var failing = b.Cluster.Register("failing", (_, _) => throw new InvalidOperationException("the handler broke on purpose"));

        var request = async () => await a.Cluster.RequestAsync(b.Name, "failing", "hi"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);

        var thrown = (await request.Should().ThrowAsync<RemoteHandlerException>()).Which;
        thrown.Node.Should().Be(b.Name);
        thrown.Mailbox.Should().Be("failing");
        thrown.RemoteMessage.Should().Contain("the handler broke on purpose");
        await request.Should().ThrowAsync<RemoteHandlerException>("the mailbox survives its handler's exception");
        await AssertEchoWorksAsync(a, b);
        seenByA.Snapshot().Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp);
    }

    [Fact]
    public async Task RequestAsync_HandlerReturnsWithoutReplying_ThrowsRemoteHandler()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        using var echo = Echo(b);
        using var silent = b.Cluster.Register("silent", (_, _) => ValueTask.CompletedTask);

        var request = async () => await a.Cluster.RequestAsync(b.Name, "silent", "hi"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);

        var thrown = (await request.Should().ThrowAsync<RemoteHandlerException>()).Which;
        thrown.Mailbox.Should().Be("silent");
        thrown.RemoteMessage.Should().Contain("without replying");
        await AssertEchoWorksAsync(a, b);
    }

    [Fact]
    public async Task RequestAsync_HandlerNeverReplies_ThrowsRequestTimeoutAfterTheTimeout()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        using var echo = Echo(b);
        using var stuck = StuckMailbox(b, "stuck").Mailbox;
        var timeout = TimeSpan.FromMilliseconds(300);
        var clock = Stopwatch.StartNew();

        var request = async () => await a.Cluster.RequestAsync(b.Name, "stuck", "hi"u8.ToArray(), timeout).AsTask().WaitAsync(Timeout);

        var thrown = (await request.Should().ThrowAsync<ClusterRequestTimeoutException>()).Which;
        clock.Elapsed.Should().BeGreaterThanOrEqualTo(timeout - TimeSpan.FromMilliseconds(20)).And.BeLessThan(TimeSpan.FromSeconds(3));
        thrown.Node.Should().Be(b.Name);
        thrown.Mailbox.Should().Be("stuck");
        await AssertEchoWorksAsync(a, b);
    }

    [Fact]
    public async Task RequestAsync_PeerStopsWhileHandlerWaits_ThrowsNodeDownWellBeforeTheTimeout()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        var stuck = StuckMailbox(b, "stuck");
        using var mailbox = stuck.Mailbox;
        var request = a.Cluster.RequestAsync(b.Name, "stuck", "hi"u8.ToArray(), TimeSpan.FromSeconds(30)).AsTask();
        await stuck.Entered.WaitAsync(Timeout);
        var clock = Stopwatch.StartNew();

        var stopping = NodeGroup.StopAsync(b);
        var failed = async () => await request.WaitAsync(Timeout);

        var thrown = (await failed.Should().ThrowAsync<NodeDownException>()).Which;
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3), "the request fails when the connection drops, not when its 30 s run out");
        thrown.Node.Should().Be(b.Name);
        thrown.Reason.Should().Be(DisconnectReasons.Shutdown);
        await stopping;
    }

    [Fact]
    public async Task RequestAsync_ThisNodeDisconnectsWhileRequestWaits_ThrowsNodeDownAtOnce()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        var stuck = StuckMailbox(b, "stuck");
        using var mailbox = stuck.Mailbox;
        var request = a.Cluster.RequestAsync(b.Name, "stuck", "hi"u8.ToArray(), TimeSpan.FromSeconds(30)).AsTask();
        await stuck.Entered.WaitAsync(Timeout);
        var clock = Stopwatch.StartNew();

        await a.Cluster.DisconnectAsync(b.Name).AsTask().WaitAsync(Timeout);
        var failed = async () => await request.WaitAsync(Timeout);

        (await failed.Should().ThrowAsync<NodeDownException>()).Which.Reason.Should().Be(DisconnectReasons.Disconnect);
        clock.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(3));
    }

    /// <summary>
    /// Request objects and their timers are pooled and reused: replies, timeouts and cancellations interleaved over
    /// one connection must each reach their own caller, and a timer left over from an earlier use must never time
    /// out a later request.
    /// </summary>
    [Fact]
    public async Task RequestAsync_RepliesTimeoutsAndCancellationsInterleaved_EachCallerGetsItsOwnOutcome()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        using var echo = Echo(b);
        using var silent = StuckMailbox(b, "never").Mailbox;
        var shortTimeout = TimeSpan.FromMilliseconds(30);

        for (var round = 0; round < 40; round++)
        {
            // A request that times out, one that is cancelled by its caller, and echoes around and after them, each
            // with a payload of its own.
            var timedOut = a.Cluster.RequestAsync(b.Name, "never", "t"u8.ToArray(), shortTimeout).AsTask();
            using var cancel = new CancellationTokenSource();
            var cancelled = a.Cluster.RequestAsync(b.Name, "never", "c"u8.ToArray(), Timeout, cancel.Token).AsTask();
            var echoes = Enumerable.Range(0, 5)
                .Select(i => a.Cluster.RequestAsync(b.Name, "echo", Encoding.UTF8.GetBytes($"{round}/{i}"), Timeout).AsTask())
                .ToList();
            await cancel.CancelAsync();

            await FluentActions.Awaiting(() => timedOut.WaitAsync(Timeout)).Should().ThrowAsync<ClusterRequestTimeoutException>();
            await FluentActions.Awaiting(() => cancelled.WaitAsync(Timeout)).Should().ThrowAsync<OperationCanceledException>();
            for (var i = 0; i < echoes.Count; i++)
            {
                var reply = await echoes[i].WaitAsync(Timeout);
                Encoding.UTF8.GetString(reply.Payload.Span).Should().Be($"{round}/{i} from {a.Name}");
            }

            // Longer than the short timeout: a timer from the timed-out request, if it were still armed on a reused
            // object, would fire during this one.
            var slowEcho = await a.Cluster.RequestAsync(b.Name, "echo", "after"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
            Encoding.UTF8.GetString(slowEcho.Payload.Span).Should().Be($"after from {a.Name}");
        }
    }

    [Fact]
    public async Task RequestAsync_ToSelf_IsHandledLocally()
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        using var _ = Echo(a);

        var reply = await a.Cluster.RequestAsync(a.Name, "echo", "hi"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);

        Encoding.UTF8.GetString(reply.Payload.Span).Should().Be($"hi from {a.Name}");
        reply.From.Should().Be(a.Name);
        var missing = async () => await a.Cluster.RequestAsync(a.Name, "nobody-home", "hi"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
        await missing.Should().ThrowAsync<MailboxNotFoundException>();
    }

    [Fact]
    public async Task SendAsync_ToMissingMailbox_IsDroppedAndConnectionStays()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByB = MembershipRecorder.Start(b);
        using var echo = Echo(b);

        for (var i = 0; i < 10; i++)
        {
            await a.Cluster.SendAsync(b.Name, "nobody-home", "lost"u8.ToArray()).AsTask().WaitAsync(Timeout);
        }

        // The request travels behind the ten messages on the same connection, so they have all been handled by now.
        await AssertEchoWorksAsync(a, b);
        b.Mailboxes.DroppedMessages.Should().Be(10);
        seenByA.Snapshot().Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp);
        seenByB.Snapshot().Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp);
    }

    private static async Task<(NodeGroup Group, TestNode A, TestNode B)> ConnectedPairAsync()
    {
        var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        var b = group.Add(TestNode.Start("b"));
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => b.Manager.IsConnected(a.Name), Timeout, "b sees a");
        return (group, a, b);
    }

    /// <summary>A mailbox whose handler never answers (until the node stops); the task completes when it has a message.</summary>
    private static (IDisposable Mailbox, Task Entered) StuckMailbox(TestNode node, string name)
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var mailbox = node.Cluster.Register(name, async (_, ct) =>
        {
            entered.TrySetResult();
            await Task.Delay(System.Threading.Timeout.Infinite, ct);
        });
        return (mailbox, entered.Task);
    }

    private static IDisposable Echo(TestNode node) =>
        node.Cluster.Register("echo", (message, ct) =>
            message.ReplyAsync(Encoding.UTF8.GetBytes($"{Encoding.UTF8.GetString(message.Payload.Span)} from {message.From}"), ct));

    private static async Task AssertEchoWorksAsync(TestNode from, TestNode to)
    {
        var reply = await from.Cluster.RequestAsync(to.Name, "echo", "still there?"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
        Encoding.UTF8.GetString(reply.Payload.Span).Should().Be($"still there? from {from.Name}");
    }
}
