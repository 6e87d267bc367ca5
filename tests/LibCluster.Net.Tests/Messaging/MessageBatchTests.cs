using System.Buffers;
using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.Tests.Messaging;

public sealed class MessageBatchTests
{
    private static readonly NodeName From = NodeName.Parse("a@127.0.0.1");

    [Fact]
    public void Add_ManyMessagesOfMixedSizes_KeepsEachPayloadAndId()
    {
        var batch = MessageBatch.Rent(From, null);
        var payloads = Enumerable.Range(0, 200).Select(i => Enumerable.Repeat((byte)i, i * 37 % 900).ToArray()).ToList();
        for (var i = 0; i < payloads.Count; i++)
        {
            if (i % 2 == 0)
            {
                batch.Add((ulong)i, payloads[i]);
            }
            else
            {
                batch.Add((ulong)i, new ReadOnlySequence<byte>(payloads[i]));
            }
        }

        batch.Count.Should().Be(payloads.Count);
        batch.Bytes.Should().Be(payloads.Sum(p => p.Length));
        for (var i = 0; i < payloads.Count; i++)
        {
            var entry = batch[i];
            entry.RequestId.Should().Be((ulong)i);
            batch.Payload(entry).ToArray().Should().Equal(payloads[i], "payload {0} survives the buffer growing", i);
        }

        batch.Return();
    }

    [Fact]
    public void IsFull_AtTheMessageOrByteLimit()
    {
        var byCount = MessageBatch.Rent(From, null);
        for (var i = 0; i < MessageBatch.MaxMessages - 1; i++)
        {
            byCount.Add(0, new byte[1]);
        }

        byCount.IsFull.Should().BeFalse();
        byCount.Add(0, new byte[1]);
        byCount.IsFull.Should().BeTrue();
        byCount.Return();

        var byBytes = MessageBatch.Rent(From, null);
        byBytes.Add(0, new byte[MessageBatch.MaxBytes - 1]);
        byBytes.IsFull.Should().BeFalse();
        byBytes.Add(0, new byte[1]);
        byBytes.IsFull.Should().BeTrue();
        byBytes.Return();
    }

    [Fact]
    public void Rent_AfterReturn_StartsEmptyWithTheNewSender()
    {
        var first = MessageBatch.Rent(From, null);
        first.Add(7, new byte[100]);
        first.Return();

        var other = NodeName.Parse("b@127.0.0.1");
        var next = MessageBatch.Rent(other, null);

        next.Count.Should().Be(0);
        next.Bytes.Should().Be(0);
        next.From.Should().Be(other);
        next.Return();
    }
}
