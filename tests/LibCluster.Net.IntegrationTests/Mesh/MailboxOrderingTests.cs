using System.Buffers.Binary;
using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Mesh;

public sealed class MailboxOrderingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Three senders stream to one mailbox while each also sends to a second mailbox every few messages (so runs of
    /// messages for one mailbox are cut into batches and handed over in between), for a mailbox on the thread pool
    /// and for an inline one (which runs on the receive buffer when idle and queues when another connection holds it).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task SendAsync_ThreeNodesSendToOneMailbox_EachSendersOrderKeptAndHandlerNeverOverlapsItself(bool inline)
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
       }, inline ? Messaging.MailboxOptions.Inline : Messaging.MailboxOptions.Default);
        var sideMessages = 0;
        using var side = target.Cluster.Register("side", (_, _) =>
        {
            Interlocked.Increment(ref sideMessages);
            return ValueTask.CompletedTask;
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
                if (sequence % 7 == 0)
                {
                    await node.Cluster.SendAsync(target.Name, "side", payload);
                }
            }
        }))).WaitAsync(Timeout);
        await done.Task.WaitAsync(Timeout);

        overlaps.Should().Be(0, "a mailbox handles one message at a time");
        outOfOrder.Should().BeEmpty("messages from one node arrive in the order they were sent");
        next.Should().AllBeEquivalentTo(perSender);
        await Eventually.TrueAsync(() => Volatile.Read(ref sideMessages) == senders * ((perSender + 6) / 7), Timeout, "every message to the other mailbox arrived");
    }
}
