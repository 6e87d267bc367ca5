using System.Buffers.Binary;
using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Mesh;

public sealed class MailboxOrderingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task SendAsync_ThreeNodesSendToOneMailbox_EachSendersOrderKeptAndHandlerNeverOverlapsItself()
    {
        const int senders = 3;
        const int perSender = 5_000;
        await using var group = new NodeGroup();
        var target = group.Add(TestNode.Start("target"));
        var nodes = Enumerable.Range(0, senders).Select(i => group.Add(TestNode.Start($"sender{i}"))).ToArray();
        var next = new int[senders];
        var outOfOrder = new List<string>();
        var inside = 0;
        var overlaps = 0;
        var handled = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var _ = target.Cluster.Register("inbox", async (message, _) =>
        {
            if (Interlocked.Increment(ref inside) != 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            try
            {
                var sender = BinaryPrimitives.ReadInt32BigEndian(message.Payload.Span);
                var sequence = BinaryPrimitives.ReadInt32BigEndian(message.Payload.Span[4..]);
                if (sequence != next[sender])
                {
                    outOfOrder.Add($"sender{sender}: got {sequence}, expected {next[sender]}");
                }

                next[sender] = sequence + 1;
                if (sequence % 64 == 0)
                {
                    // Give a second copy of the handler, if there were one, the time to run into this one.
                    await Task.Yield();
                }
            }
            finally
            {
                Interlocked.Decrement(ref inside);
            }

            if (Interlocked.Increment(ref handled) == senders * perSender)
            {
                done.TrySetResult();
            }
        });
        await Task.WhenAll(nodes.Select(n => n.Cluster.ConnectAsync(target.Address).AsTask())).WaitAsync(Timeout);

        await Task.WhenAll(nodes.Select((node, index) => Task.Run(async () =>
        {
            var payload = new byte[8];
            for (var sequence = 0; sequence < perSender; sequence++)
            {
                BinaryPrimitives.WriteInt32BigEndian(payload, index);
                BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), sequence);
                await node.Cluster.SendAsync(target.Name, "inbox", payload);
            }
        }))).WaitAsync(Timeout);
        await done.Task.WaitAsync(Timeout);

        overlaps.Should().Be(0, "a mailbox handles one message at a time");
        outOfOrder.Should().BeEmpty("messages from one node arrive in the order they were sent");
        next.Should().AllBeEquivalentTo(perSender);
    }
}
