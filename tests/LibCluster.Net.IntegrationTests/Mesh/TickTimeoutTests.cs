using System.Diagnostics;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Mesh;

[Collection(TimingSensitive.Name)]
public sealed class TickTimeoutTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan TickTime = TimeSpan.FromSeconds(1);

    // How long the idle healthy peer is watched from its connection: that it stays up this long on ticks alone is what
    // is under test, so a fixed wait is right.
    private static readonly TimeSpan WatchHealthyPeerFor = 1.5 * TickTime;

    /// <summary>
    /// A peer that completes a real handshake and then goes silent without closing its socket (a hung process, a
    /// cable pulled on the far side) is dropped with <c>tick_timeout</c> after about one TickTime of silence: not
    /// before 0.75 × TickTime (the check runs every TickTime/4), within 1.25 × TickTime (2 s allowed for slow CI).
    /// An idle but healthy peer on the same node stays up meanwhile, kept alive by ticks alone.
    /// </summary>
    [Fact]
    public async Task TickTimer_PeerGoesSilentWithoutClosing_NodeDownTickTimeoutAfterAboutOneTickTime()
    {
        await using var group = new NodeGroup();
        var node = group.Add(TestNode.Start("node", tickTime: TickTime));
        var healthy = group.Add(TestNode.Start("healthy", tickTime: TickTime));
        await healthy.Cluster.ConnectAsync(node.Address).AsTask().WaitAsync(Timeout);
        var healthyConnected = Stopwatch.StartNew();
        await using var seen = MembershipRecorder.Start(node);
        await using var silent = await RawPeer.ConnectAsync(node, Timeout);

        var outcome = await silent.HandshakeAsync(node.Name, "silent", TestNode.Cookie, 0x5157_E417, Timeout);

        outcome.Verdict.Should().Be(HandshakeVerdict.Ok);
        var silentName = NodeName.Parse("silent@127.0.0.1");
        var up = await seen.WaitForAsync(MembershipChangeKind.NodeUp, silentName, Timeout);
        up.Change.Creation.Should().Be(0x5157_E417u);
        var down = await seen.WaitForAsync(MembershipChangeKind.NodeDown, silentName, Timeout);
        var silence = Stopwatch.GetElapsedTime(silent.LastWriteTimestamp, down.Timestamp);

        down.Change.Reason.Should().Be(DisconnectReasons.TickTimeout);
        silence.Should().BeGreaterThanOrEqualTo(0.75 * TickTime, "the node must not give up before most of a TickTime of silence")
            .And.BeLessThan(TimeSpan.FromSeconds(2), "the node must notice within about 1.25 × TickTime");
        silent.BytesReceived.Should().BeGreaterThan(0, "the node ticked the silent peer while it waited");
        await silent.Closed.WaitAsync(Timeout);
        node.Cluster.ConnectedNodes.Should().Equal(healthy.Name);

        // The healthy peer sent no messages at all; only ticks kept it up. Watch it past 1.5 × TickTime in total.
        var remaining = WatchHealthyPeerFor - healthyConnected.Elapsed;
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining);
        }

        seen.For(healthy.Name).Select(c => c.Kind).Should().Equal(MembershipChangeKind.NodeUp);
        node.Manager.IsConnected(healthy.Name).Should().BeTrue();
        healthy.Manager.IsConnected(node.Name).Should().BeTrue();
    }
}
