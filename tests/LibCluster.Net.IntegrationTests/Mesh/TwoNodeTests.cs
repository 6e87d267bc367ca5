using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

public sealed class TwoNodeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ConnectAsync_SameCookie_BothSidesSeeEachOther()
    {
        await using var a = TestNode.Start("a");
        await using var b = TestNode.Start("b");

        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        a.Cluster.ConnectedNodes.Should().Equal(b.Name);
        await Eventually.TrueAsync(() => b.Cluster.ConnectedNodes.Contains(a.Name), Timeout, "b sees a");
    }

    [Fact]
    public async Task RequestAsync_EchoMailbox_RepliesAcrossNodes()
    {
        await using var a = TestNode.Start("a");
        await using var b = TestNode.Start("b");
        using var _ = b.Cluster.Register("echo", async (message, ct) =>
        {
            var text = Encoding.UTF8.GetString(message.Payload.Span);
            await message.ReplyAsync(Encoding.UTF8.GetBytes($"{text} from {message.From}"), ct);
        });
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        var reply = await a.Cluster.RequestAsync(b.Name, "echo", "hi"u8.ToArray(), Timeout);

        Encoding.UTF8.GetString(reply.Payload.Span).Should().Be($"hi from {a.Name}");
        reply.From.Should().Be(b.Name);
    }

    [Fact]
    public async Task SendAsync_ManyMessages_ArriveInOrder()
    {
        const int count = 20_000;
        await using var a = TestNode.Start("a");
        await using var b = TestNode.Start("b");
        var received = new List<int>();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = b.Cluster.Register("sink", (message, _) =>
        {
            received.Add(BitConverter.ToInt32(message.Payload.Span));
            if (received.Count == count)
            {
                done.TrySetResult();
            }

            return ValueTask.CompletedTask;
        });
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        for (var i = 0; i < count; i++)
        {
            await a.Cluster.SendAsync(b.Name, "sink", BitConverter.GetBytes(i));
        }

        await done.Task.WaitAsync(Timeout);
        received.Should().Equal(Enumerable.Range(0, count));
    }

    [Fact]
    public async Task ConnectAsync_WrongCookie_FailsAndNeitherSideSeesTheOther()
    {
        await using var a = TestNode.Start("a");
        await using var b = TestNode.Start("b", cookie: "another-cookie-entirely-0123456789abcdef");

        var connect = async () => await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        (await connect.Should().ThrowAsync<ClusterConnectException>()).Which.Reason.Should().Be("rejected", "the acceptor tells a peer with the wrong cookie nothing, it just closes");
        a.Cluster.ConnectedNodes.Should().BeEmpty();
        b.Cluster.ConnectedNodes.Should().BeEmpty();
    }

    [Fact]
    public async Task DisposeAsync_GracefulStop_PeerSeesShutdownAtOnce()
    {
        await using var a = TestNode.Start("a");
        var b = TestNode.Start("b");
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => b.Cluster.ConnectedNodes.Count == 1, Timeout, "b sees a");
        var down = FirstDownAsync(a.Cluster, b.Name);

        await b.DisposeAsync();

        (await down.WaitAsync(Timeout)).Reason.Should().Be(DisconnectReasons.Shutdown);
    }

    private static async Task<MembershipChange> FirstDownAsync(ICluster cluster, NodeName node)
    {
        await foreach (var change in cluster.WatchAsync())
        {
            if (change.Node == node && change.Kind == MembershipChangeKind.NodeDown)
            {
                return change;
            }
        }

        throw new InvalidOperationException("watch ended");
    }
}
