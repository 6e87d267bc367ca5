using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

public sealed class RestartedPeerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private const uint OldCreation = 0x0000_1111;
    private const uint NewCreation = 0x0000_2222;

    [Fact]
    public async Task ConnectAsync_PeerRestartedOnSamePortWithNewCreation_NodeDownOfOldLifeThenNodeUpOfNewOne()
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a"));
        var oldB = group.Add(TestNode.Start("b", creation: OldCreation));
        var port = oldB.Address.Port;
        await using var seenByA = MembershipRecorder.Start(a);
        await a.Cluster.ConnectAsync(oldB.Address).AsTask().WaitAsync(Timeout);

        await NodeGroup.StopAsync(oldB);
        await seenByA.WaitForAsync(MembershipChangeKind.NodeDown, oldB.Name, Timeout);
        var newB = group.Add(TestNode.Start("b", creation: NewCreation, port: port));
        using var _ = AnswerWho(newB, "new life");
        await a.Cluster.ConnectAsync(newB.Address).AsTask().WaitAsync(Timeout);

        await seenByA.WaitForAsync(c => c.Kind == MembershipChangeKind.NodeUp && c.Creation == NewCreation, Timeout, "a sees the new life up");
        seenByA.For(newB.Name).Select(c => c.Change).Should().Equal(
            new MembershipChange(MembershipChangeKind.NodeUp, newB.Name, OldCreation, string.Empty),
            new MembershipChange(MembershipChangeKind.NodeDown, newB.Name, OldCreation, DisconnectReasons.Shutdown),
            new MembershipChange(MembershipChangeKind.NodeUp, newB.Name, NewCreation, string.Empty));
        a.Manager.GetConnection(newB.Name)!.PeerCreation.Should().Be(NewCreation);
        await AskWhoAsync(a, newB.Name, "new life");
    }

    /// <summary>
    /// The restarted peer dials while this node still holds the connection of its previous life (here the previous
    /// life is simply still running under the same name, which is what a half-open connection to a dead process
    /// looks like from this side). Every branch of the acceptor's decision must replace it: whoever dialled the old
    /// connection, and whichever name is greater (the "my dial wins" rule is only for the same incarnation).
    /// </summary>
    [Theory]
    [InlineData("a", true)]
    [InlineData("a", false)]
    [InlineData("z", true)]
    [InlineData("z", false)]
    public async Task Handshake_RestartedPeerDialsWhileOldConnectionIsOpen_OldReplacedWithNodeDownBeforeNodeUp(string self, bool selfDialledOld)
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start(self));
        var oldB = group.Add(TestNode.Start("b", creation: OldCreation));
        using var oldWho = AnswerWho(oldB, "old life");
        await ConnectBothWaysVisibleAsync(selfDialledOld ? a : oldB, selfDialledOld ? oldB : a);
        await using var seenByA = MembershipRecorder.Start(a);
        await using var seenByOldB = MembershipRecorder.Start(oldB);
        await AskWhoAsync(a, oldB.Name, "old life");

        var newB = group.Add(TestNode.Start("b", creation: NewCreation));
        using var newWho = AnswerWho(newB, "new life");
        await newB.Cluster.ConnectAsync(a.Address).AsTask().WaitAsync(Timeout);

        await seenByA.WaitForAsync(c => c.Kind == MembershipChangeKind.NodeUp && c.Creation == NewCreation, Timeout, "a sees the new life up");
        seenByA.For(oldB.Name).Select(c => c.Change).Should().Equal(
            new MembershipChange(MembershipChangeKind.NodeUp, oldB.Name, OldCreation, string.Empty),
            new MembershipChange(MembershipChangeKind.NodeDown, oldB.Name, OldCreation, DisconnectReasons.Restarted),
            new MembershipChange(MembershipChangeKind.NodeUp, oldB.Name, NewCreation, string.Empty));
        a.Manager.GetConnections().Should().ContainSingle().Which.PeerCreation.Should().Be(NewCreation);
        await AskWhoAsync(a, newB.Name, "new life");
        newB.Cluster.ConnectedNodes.Should().Equal(a.Name);

        // The previous life learns that its connection is gone (a closes it without a goodbye).
        await seenByOldB.WaitForAsync(MembershipChangeKind.NodeDown, a.Name, Timeout);
        oldB.Cluster.ConnectedNodes.Should().BeEmpty();
    }

    /// <summary>
    /// The same incarnation dials again while this node still holds a connection with it (the peer lost its side of
    /// the old one). If this node dialled the old connection and has the greater name, it keeps it and answers
    /// <c>alive</c>; otherwise the new connection replaces the old one, NodeDown(connection_replaced) first.
    /// </summary>
    [Theory]
    [InlineData("a", true)]
    [InlineData("a", false)]
    [InlineData("z", true)]
    [InlineData("z", false)]
    public async Task Handshake_SameCreationDialsWhileOldConnectionIsOpen_ReplacedUnlessOurDialWins(string self, bool selfDialledOld)
    {
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start(self));
        var oldB = group.Add(TestNode.Start("b", creation: OldCreation));
        using var oldWho = AnswerWho(oldB, "first connection");
        await ConnectBothWaysVisibleAsync(selfDialledOld ? a : oldB, selfDialledOld ? oldB : a);
        await using var seenByA = MembershipRecorder.Start(a);
        var keepsOld = selfDialledOld && a.Name > oldB.Name;

        var again = group.Add(TestNode.Start("b", creation: OldCreation, handshakeTimeout: TimeSpan.FromMilliseconds(500)));
        using var againWho = AnswerWho(again, "second connection");
        var connect = async () => await again.Cluster.ConnectAsync(a.Address).AsTask().WaitAsync(Timeout);

        if (keepsOld)
        {
            (await connect.Should().ThrowAsync<ClusterConnectException>()).Which.Reason.Should().Be("peer_has_connection");
            seenByA.For(oldB.Name).Select(c => c.Kind).Should().Equal(MembershipChangeKind.NodeUp);
            await AskWhoAsync(a, oldB.Name, "first connection");
            again.Cluster.ConnectedNodes.Should().BeEmpty();
        }
        else
        {
            await connect();
            await seenByA.WaitForAsync(MembershipChangeKind.NodeUp, oldB.Name, Timeout, from: 1);
            seenByA.For(oldB.Name).Select(c => c.Change).Should().Equal(
                new MembershipChange(MembershipChangeKind.NodeUp, oldB.Name, OldCreation, string.Empty),
                new MembershipChange(MembershipChangeKind.NodeDown, oldB.Name, OldCreation, DisconnectReasons.Replaced),
                new MembershipChange(MembershipChangeKind.NodeUp, oldB.Name, OldCreation, string.Empty));
            await AskWhoAsync(a, oldB.Name, "second connection");
        }
    }

    private static async Task ConnectBothWaysVisibleAsync(TestNode dialler, TestNode acceptor)
    {
        await dialler.Cluster.ConnectAsync(acceptor.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => acceptor.Manager.IsConnected(dialler.Name), Timeout, $"{acceptor.Name} sees {dialler.Name}");
        dialler.Manager.GetConnection(acceptor.Name)!.DialledBySelf.Should().BeTrue();
    }

    private static IDisposable AnswerWho(TestNode node, string answer) =>
        node.Cluster.Register("who", (message, ct) => message.ReplyAsync(Encoding.UTF8.GetBytes(answer), ct));

    private static async Task AskWhoAsync(TestNode from, NodeName to, string expected)
    {
        var reply = await from.Cluster.RequestAsync(to, "who", ReadOnlyMemory<byte>.Empty, Timeout);
        Encoding.UTF8.GetString(reply.Payload.Span).Should().Be(expected);
    }
}
