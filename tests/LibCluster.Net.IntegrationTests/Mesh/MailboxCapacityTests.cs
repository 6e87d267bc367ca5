using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;

namespace LibCluster.IntegrationTests.Mesh;

/// <summary>A mailbox's own bound (<see cref="MailboxOptions.Capacity"/>) instead of the node's.</summary>
public sealed class MailboxCapacityTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // How long a probe waits when it is expected to be held up behind a full mailbox.
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromMilliseconds(500);

    [Theory]
    [InlineData(4, 10, false)]
    [InlineData(5_000, MailboxRegistry.DefaultCapacity + 100, true)]
    public async Task SendAsync_BlockedHandler_ConnectionPausesAtTheMailboxsOwnCapacity(int capacity, int sent, bool echoAnswers)
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        var b = group.Add(TestNode.Start("b"));
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0;
        using var stuck = b.Cluster.Register(
            "stuck",
            async (_, _) =>
            {
                entered.TrySetResult();
                await release.Task;
                Interlocked.Increment(ref handled);
            },
            new MailboxOptions { Capacity = capacity });
        using var echo = b.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);

        for (var i = 0; i < sent; i++)
        {
            await a.Cluster.SendAsync(b.Name, "stuck", new byte[16]).AsTask().WaitAsync(Timeout);
        }

        await entered.Task.WaitAsync(Timeout);
        var probe = async () => await a.Cluster.RequestAsync(b.Name, "echo", "x"u8.ToArray(), ProbeTimeout).AsTask().WaitAsync(Timeout);
        if (echoAnswers)
        {
            // Over the node's default of 1024 but under this mailbox's own bound: the connection keeps reading.
            var reply = await a.Cluster.RequestAsync(b.Name, "echo", "x"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
            reply.Payload.ToArray().Should().Equal("x"u8.ToArray());
        }
        else
        {
            await probe.Should().ThrowAsync<ClusterRequestTimeoutException>("the small mailbox is full, so b reads nothing more from a");
        }

        release.SetResult();
        await Eventually.TrueAsync(() => Volatile.Read(ref handled) == sent, Timeout, "every message was handled once released");
    }

    [Fact]
    public async Task Register_CapacityBelowOne_Throws()
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));

        var zero = () => a.Cluster.Register("m", (_, _) => ValueTask.CompletedTask, new MailboxOptions { Capacity = 0 });
        var negativeBytes = () => a.Cluster.Register("m", (_, _) => ValueTask.CompletedTask, new MailboxOptions { CapacityBytes = -1 });

        zero.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'m'*at least 1*");
        negativeBytes.Should().Throw<ArgumentOutOfRangeException>().WithMessage("*'m'*at least 1*");
    }
}
