using System.Net;
using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

[Collection(ConnectionHeavy.Name)]
public sealed class FullMeshTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(5)]
    [InlineData(20)]
    public async Task ConnectAsync_EveryNodeDialsEveryOtherAtOnce_FullMeshWithOneAgreedConnectionPerPair(int count)
    {
        await using var group = new NodeGroup();
        var nodes = Enumerable.Range(0, count).Select(i => group.Add(TestNode.Start($"n{i:D2}"))).ToArray();
        var recorders = nodes.Select(MembershipRecorder.Start).ToArray();
        var received = new int[count];
        var registrations = nodes.Select((n, i) => n.Cluster.Register("ping", (_, _) =>
        {
            Interlocked.Increment(ref received[i]);
            return ValueTask.CompletedTask;
        })).ToArray();

        var dials = from dialler in nodes
                    from target in nodes
                    where dialler != target
                    select Task.Run(() => dialler.Cluster.ConnectAsync(target.Address).AsTask());
        await Task.WhenAll(dials).WaitAsync(Timeout);

        // A dial that lost a simultaneous connect returns once the winning connection is up on the dialler's side;
        // the acceptor registers its side before it sends the ACK, so by now both sides of every pair are settled.
        foreach (var node in nodes)
        {
            node.Manager.GetConnections().Should().HaveCount(count - 1, $"{node.Name} keeps one connection per other node");
            node.Cluster.ConnectedNodes.Should().BeEquivalentTo(nodes.Where(n => n != node).Select(n => n.Name));
        }

        for (var i = 0; i < count; i++)
        {
            for (var j = i + 1; j < count; j++)
            {
                var ij = nodes[i].Manager.GetConnection(nodes[j].Name)!;
                var ji = nodes[j].Manager.GetConnection(nodes[i].Name)!;
                ij.IsClosed.Should().BeFalse();
                ji.IsClosed.Should().BeFalse();
                ij.DialledBySelf.Should().NotBe(ji.DialledBySelf, $"{nodes[i].Name} and {nodes[j].Name} agree on who dialled their one connection");
                var (dialler, acceptor, diallerSide, acceptorSide) = ij.DialledBySelf ? (nodes[i], nodes[j], ij, ji) : (nodes[j], nodes[i], ji, ij);
                ((IPEndPoint)diallerSide.RemoteEndPoint!).Port.Should().Be(acceptor.Address.Port, "the dialler reached the acceptor's listener");
                ((IPEndPoint)acceptorSide.RemoteEndPoint!).Port.Should().NotBe(dialler.Address.Port, "the acceptor sees the dialler's ephemeral port");
                ij.PeerCreation.Should().Be(nodes[j].Cluster.Creation);
                ji.PeerCreation.Should().Be(nodes[i].Cluster.Creation);
            }
        }

        // Every connection carries data: each node broadcasts once, so each mailbox gets one message per node.
        await Task.WhenAll(nodes.Select(n => n.Cluster.BroadcastAsync("ping", "hi"u8.ToArray()).AsTask())).WaitAsync(Timeout);
        await Eventually.TrueAsync(() => Enumerable.Range(0, count).All(i => Volatile.Read(ref received[i]) == count), Timeout, $"every node received {count} pings");

        // No flapping: each node saw exactly one NodeUp per peer and never a NodeDown (no connection was replaced).
        for (var i = 0; i < count; i++)
        {
            var changes = recorders[i].Snapshot();
            changes.Should().OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp, $"{nodes[i].Name} never lost a peer");
            changes.Select(c => c.Node).Should().OnlyHaveUniqueItems().And.HaveCount(count - 1);
            nodes[i].Manager.PendingInboundHandshakes.Should().Be(0);
        }

        foreach (var registration in registrations)
        {
            registration.Dispose();
        }

        foreach (var recorder in recorders)
        {
            await recorder.DisposeAsync();
        }
    }
}
