using LibCluster.Mesh;

namespace LibCluster.Tests.Mesh;

public sealed class WriteGateTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void TryEnter_FreeThenHeld_TakesOnceUntilExit()
    {
        var gate = new WriteGate();

        gate.TryEnter().Should().BeTrue();
        gate.TryEnter().Should().BeFalse("the gate is held");
        gate.Exit();
        gate.TryEnter().Should().BeTrue("it was let go");
    }

    [Fact]
    public async Task EnterAsync_SeveralWaiters_ServedInArrivalOrderAndNotOvertaken()
    {
        var gate = new WriteGate();
        gate.TryEnter().Should().BeTrue();
        var order = new List<int>();
        var waiters = Enumerable.Range(0, 5).Select(i => Take(gate, i, order)).ToList();

        gate.TryEnter().Should().BeFalse("a newcomer does not overtake the waiters");
        gate.Exit();
        await Task.WhenAll(waiters).WaitAsync(Timeout);

        order.Should().Equal(0, 1, 2, 3, 4);
        gate.TryEnter().Should().BeTrue("the last waiter let it go");
    }

    private static async Task Take(WriteGate gate, int id, List<int> order)
    {
        await gate.EnterAsync();
        lock (order)
        {
            order.Add(id);
        }

        gate.Exit();
    }

    [Fact]
    public async Task EnterAsync_CancelledWhileWaiting_ThrowsAndLeavesTheLineIntact()
    {
        var gate = new WriteGate();
        gate.TryEnter().Should().BeTrue();
        using var cancel = new CancellationTokenSource();
        var cancelled = gate.EnterAsync(cancel.Token);
        var next = gate.EnterAsync();

        await cancel.CancelAsync();
        var wait = async () => await cancelled.WaitAsync(Timeout);
        await wait.Should().ThrowAsync<OperationCanceledException>();

        gate.Exit();
        await next.WaitAsync(Timeout);
        gate.TryEnter().Should().BeFalse("the waiter behind the cancelled one holds the gate now");
        gate.Exit();
        gate.TryEnter().Should().BeTrue();
    }

    [Fact]
    public async Task TryEnterAsync_HeldPastTheTimeout_ReturnsFalse()
    {
        var gate = new WriteGate();
        gate.TryEnter().Should().BeTrue();

        (await gate.TryEnterAsync(TimeSpan.FromMilliseconds(50)).WaitAsync(Timeout)).Should().BeFalse();

        gate.Exit();
        (await gate.TryEnterAsync(TimeSpan.FromMilliseconds(50)).WaitAsync(Timeout)).Should().BeTrue("nobody held it any more");
    }

    [Fact]
    public async Task ManyThreads_MixingFastAndQueuedEntries_NeverTwoInsideAndNobodyLost()
    {
        var gate = new WriteGate();
        var inside = 0;
        var entries = 0;
        const int perWorker = 20_000;

        async Task Work()
        {
            for (var i = 0; i < perWorker; i++)
            {
                await gate.EnterAsync();
                Interlocked.Increment(ref inside).Should().Be(1, "the gate admits one at a time");
                entries++;
                if (i % 64 == 0)
                {
                    await Task.Yield();
                }

                Interlocked.Decrement(ref inside);
                gate.Exit();
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(Work))).WaitAsync(TimeSpan.FromSeconds(60));

        entries.Should().Be(4 * perWorker, "every entry was counted under the gate");
        gate.TryEnter().Should().BeTrue("the gate is free at the end");
    }
}
