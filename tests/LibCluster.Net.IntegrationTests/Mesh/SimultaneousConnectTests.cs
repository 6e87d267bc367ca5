using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

[Collection(ConnectionHeavy.Name)]
public sealed class SimultaneousConnectTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ConnectAsync_BothNodesDialEachOtherAtOnceForManyRounds_OneAgreedConnectionAndOneNodeUpPerRound()
    {
        const int rounds = 30;
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        var b = group.Add(TestNode.Start("b"));
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByB = MembershipRecorder.Start(b);

        for (var round = 0; round < rounds; round++)
        {
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var aDials = Task.Run(async () =>
            {
                await go.Task;
                await a.Cluster.ConnectAsync(b.Address);
            });
            var bDials = Task.Run(async () =>
            {
                await go.Task;
                await b.Cluster.ConnectAsync(a.Address);
            });
            go.SetResult();
            await Task.WhenAll(aDials, bDials).WaitAsync(Timeout);

            var ab = a.Manager.GetConnections().Should().ContainSingle($"round {round}: a keeps one connection").Which;
            var ba = b.Manager.GetConnections().Should().ContainSingle($"round {round}: b keeps one connection").Which;
            // Whichever dial survives (Erlang's rule picks the greater name's in a real race; a dial that finished before
            // the other began is kept), both sides must hold the same one.
            ab.DialledBySelf.Should().NotBe(ba.DialledBySelf, $"round {round}: both sides agree on who dialled the surviving connection");
            ab.PeerCreation.Should().Be(b.Cluster.Creation);
            ba.PeerCreation.Should().Be(a.Cluster.Creation);

            var disconnecting = round % 2 == 0 ? a : b;
            var other = round % 2 == 0 ? b : a;
            (await disconnecting.Manager.DisconnectAsync(other.Name).WaitAsync(Timeout)).Should().BeTrue();
            await Eventually.TrueAsync(() => !a.Manager.IsConnected(b.Name) && !b.Manager.IsConnected(a.Name), Timeout, $"round {round}: both sides see the connection gone");
            await Eventually.TrueAsync(() => seenByA.For(b.Name).Count >= 2 * (round + 1) && seenByB.For(a.Name).Count >= 2 * (round + 1), Timeout, $"round {round}: both watchers saw NodeDown");
        }

        AssertAlternatesUpDown(seenByA.For(b.Name), rounds, "a about b");
        AssertAlternatesUpDown(seenByB.For(a.Name), rounds, "b about a");
        seenByA.For(b.Name).Where(c => c.Kind == MembershipChangeKind.NodeDown).Should().OnlyContain(c => c.Change.Reason == DisconnectReasons.Disconnect);
        seenByB.For(a.Name).Where(c => c.Kind == MembershipChangeKind.NodeDown).Should().OnlyContain(c => c.Change.Reason == DisconnectReasons.Disconnect);
    }

    private static void AssertAlternatesUpDown(IReadOnlyList<RecordedChange> changes, int rounds, string what)
    {
        changes.Should().HaveCount(2 * rounds, $"{what}: one NodeUp and one NodeDown per round, nothing more ({string.Join("; ", changes)})");
        for (var i = 0; i < changes.Count; i++)
        {
            changes[i].Kind.Should().Be(
                i % 2 == 0 ? MembershipChangeKind.NodeUp : MembershipChangeKind.NodeDown,
                $"{what}: change {i} of [{string.Join("; ", changes)}] — never two NodeUps without a NodeDown between them");
        }
    }
}
