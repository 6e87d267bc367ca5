using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.IntegrationTests.Mesh;

public sealed class WrongCookieTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private const string WrongCookie = "not-the-cluster-cookie-0123456789abcdef";

    /// <summary>
    /// A correct handshake with the wrong cookie is refused and changes nothing — not even when the stranger claims
    /// the name of a node that is connected right now (an unauthenticated peer must not be able to displace it).
    /// </summary>
    [Theory]
    [InlineData("stranger")]
    [InlineData("peer")]
    public async Task Handshake_WrongCookie_RejectedLoggedAndNothingChanges(string claimedBasename)
    {
        var logs = new LogCollector();
        await using var group = new NodeGroup();
        var target = group.Add(TestNode.Start("target", loggers: logs.Factory));
        var peer = group.Add(TestNode.Start("peer"));
        using var echo = target.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => target.Manager.IsConnected(peer.Name), Timeout, "target sees peer");
        await using var seen = MembershipRecorder.Start(target);
        await using var impostor = await RawPeer.ConnectAsync(target, Timeout);

        var handshake = async () => await impostor.HandshakeAsync(target.Name, claimedBasename, WrongCookie, 0x0BAD_C00C, Timeout);

        (await handshake.Should().ThrowAsync<MeshProtocolException>()).Which.Reason.Should().Be("rejected", "the node tells a peer whose proof fails nothing and closes");
        await impostor.Closed.WaitAsync(Timeout);
        var reply = await peer.Cluster.RequestAsync(target.Name, "echo", "ping"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
        reply.Payload.ToArray().Should().Equal("ping"u8.ToArray());
        seen.Snapshot().Select(c => c.Change).Should().Equal(
            [new MembershipChange(MembershipChangeKind.NodeUp, peer.Name, peer.Cluster.Creation, string.Empty)],
            "the impostor changed nothing");
        target.Cluster.ConnectedNodes.Should().Equal(peer.Name);
        target.Manager.GetConnection(peer.Name)!.PeerCreation.Should().Be(peer.Cluster.Creation);
        var warning = logs.WithEventId(1004).Should().ContainSingle().Which;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Value("Reason").Should().Be("bad_cookie");
        warning.Message.Should().NotContain(TestNode.Cookie).And.NotContain(WrongCookie);
        logs.Factory.Dispose();
    }

    [Fact]
    public async Task ConnectAsync_NodeWithWrongCookie_NeverJoinsThreeNodeClusterWhichStaysConnected()
    {
        await using var group = new NodeGroup();
        var members = new[] { "m1", "m2", "m3" }.Select(n => group.Add(TestNode.Start(n))).ToArray();
        var intruder = group.Add(TestNode.Start("intruder", cookie: WrongCookie));
        // One dial per pair, one after the other: the cluster is formed plainly (simultaneous connects have tests of their own).
        for (var i = 0; i < members.Length; i++)
        {
            for (var j = i + 1; j < members.Length; j++)
            {
                await members[i].Cluster.ConnectAsync(members[j].Address).AsTask().WaitAsync(Timeout);
            }
        }

        await Eventually.TrueAsync(() => members.All(m => m.Manager.GetConnections().Length == 2), Timeout, "the three members are fully connected");
        var recorders = members.Select(MembershipRecorder.Start).ToArray();
        await using var seenByIntruder = MembershipRecorder.Start(intruder);

        // The intruder dials every member and every member dials the intruder, all at once.
        var attempts = members.SelectMany(m => new[]
        {
            intruder.Cluster.ConnectAsync(m.Address).AsTask(),
            m.Cluster.ConnectAsync(intruder.Address).AsTask(),
        }).Select(async attempt =>
        {
            var act = async () => await attempt.WaitAsync(Timeout);
            return (await act.Should().ThrowAsync<ClusterConnectException>()).Which.Reason;
        });
        var reasons = await Task.WhenAll(attempts).WaitAsync(Timeout);

        reasons.Should().OnlyContain(r => r == "rejected" || r == "bad_cookie", "each side refuses the other's proof");
        intruder.Cluster.ConnectedNodes.Should().BeEmpty();
        seenByIntruder.Snapshot().Should().BeEmpty();
        foreach (var (member, recorder) in members.Zip(recorders))
        {
            member.Cluster.ConnectedNodes.Should().BeEquivalentTo(members.Where(m => m != member).Select(m => m.Name));
            recorder.Snapshot().Should().HaveCount(2).And.OnlyContain(c => c.Kind == MembershipChangeKind.NodeUp, "nothing changed but the initial view");
        }

        var received = new int[members.Length];
        var registrations = members.Select((m, i) => m.Cluster.Register("roll-call", (_, _) =>
        {
            Interlocked.Increment(ref received[i]);
            return ValueTask.CompletedTask;
        })).ToArray();
        await members[0].Cluster.BroadcastAsync("roll-call", "here?"u8.ToArray()).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => Enumerable.Range(0, members.Length).All(i => Volatile.Read(ref received[i]) == 1), Timeout, "every member got the broadcast");

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
