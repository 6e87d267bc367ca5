using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

/// <summary>
/// The largest payloads of docs/protocol.md ("Largest payloads") go through; one byte more is refused by the sender,
/// which would otherwise make the receiver close the whole connection (and fail everything in flight on it).
/// </summary>
public sealed class FrameSizeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>The default of <c>MeshSettings.MaxFrameBytes</c>, which the test nodes use.</summary>
    private const int MaxFrameBytes = 8 * 1024 * 1024;

    private const string Mailbox = "big";

    // docs/protocol.md: SEND MaxFrameBytes − 2 − m, REQUEST MaxFrameBytes − 10 − m, REPLY MaxFrameBytes − 10.
    private const int LargestSend = MaxFrameBytes - 2 - 3;
    private const int LargestRequest = MaxFrameBytes - 10 - 3;
    private const int LargestReply = MaxFrameBytes - 10;

    [Fact]
    public async Task SendRequestReply_LargestPayloadsOfTheProtocol_AreDelivered()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        await using var seenByA = MembershipRecorder.Start(a);
        var received = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var big = b.Cluster.Register(Mailbox, (message, ct) =>
        {
            if (!message.IsRequest)
            {
                received.TrySetResult(message.Payload.Length);
                return ValueTask.CompletedTask;
            }

            return message.ReplyAsync(new byte[LargestReply], ct);
        });

        await a.Cluster.SendAsync(b.Name, Mailbox, new byte[LargestSend]).AsTask().WaitAsync(Timeout);
        (await received.Task.WaitAsync(Timeout)).Should().Be(LargestSend);
        var reply = await a.Cluster.RequestAsync(b.Name, Mailbox, new byte[LargestRequest], Timeout).AsTask().WaitAsync(Timeout);

        reply.Payload.Length.Should().Be(LargestReply);
        seenByA.Snapshot().Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp);
    }

    [Fact]
    public async Task SendAndRequest_PayloadOneByteOverTheLargest_RefusedBySenderAndConnectionStays()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        await using var seenByA = MembershipRecorder.Start(a);
        using var big = b.Cluster.Register(Mailbox, (message, ct) => message.IsRequest ? message.ReplyAsync(ReadOnlyMemory<byte>.Empty, ct) : ValueTask.CompletedTask);
        using var echo = Echo(b);

        var send = async () => await a.Cluster.SendAsync(b.Name, Mailbox, new byte[LargestSend + 1]).AsTask().WaitAsync(Timeout);
        var request = async () => await a.Cluster.RequestAsync(b.Name, Mailbox, new byte[LargestRequest + 1], Timeout).AsTask().WaitAsync(Timeout);

        await send.Should().ThrowAsync<ArgumentException>();
        await request.Should().ThrowAsync<ArgumentException>();
        await AssertEchoWorksAsync(a, b);
        seenByA.Snapshot().Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp, "refusing one message leaves the connection alone");
    }

    /// <summary>The same for a reply: the handler's ReplyAsync is refused, the requester learns at once that the handler failed.</summary>
    [Fact]
    public async Task RequestAsync_ReplyOneByteOverTheLargest_FailsTheRequestAtOnceAndConnectionStays()
    {
        var (group, a, b) = await ConnectedPairAsync();
        await using var _ = group;
        await using var seenByA = MembershipRecorder.Start(a);
        using var huge = b.Cluster.Register("huge", (message, ct) => message.ReplyAsync(new byte[LargestReply + 1], ct));
        using var echo = Echo(b);

        var request = async () => await a.Cluster.RequestAsync(b.Name, "huge", ReadOnlyMemory<byte>.Empty, Timeout).AsTask().WaitAsync(Timeout);

        (await request.Should().ThrowAsync<RemoteHandlerException>()).Which.RemoteMessage.Should().Contain("ArgumentException");
        await AssertEchoWorksAsync(a, b);
        seenByA.Snapshot().Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp);
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

    private static IDisposable Echo(TestNode node) => node.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));

    private static async Task AssertEchoWorksAsync(TestNode from, TestNode to)
    {
        var reply = await from.Cluster.RequestAsync(to.Name, "echo", "still there?"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
        reply.Payload.ToArray().Should().Equal("still there?"u8.ToArray());
    }
}
