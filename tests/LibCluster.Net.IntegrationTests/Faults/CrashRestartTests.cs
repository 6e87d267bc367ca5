using System.Diagnostics;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// A node process dies (SIGKILL: no goodbye, no cleanup of its own) and is started again under the same name, with a
/// new creation. Three hosts of a namespace LAN: the victim and a peer as processes, and an in-process node that sends
/// requests to the victim. The default TickTime (15 s) is kept, so that nothing here is found by ticks.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class CrashRestartTests(ITestOutputHelper output)
{
    private const int InFlight = 16;
    private static readonly TimeSpan DefaultTickTime = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>A failure that "fails fast" must come this soon after the kill, far below the requests' own timeout.</summary>
    private static readonly TimeSpan FailFast = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The victim is frozen (SIGSTOP) so that 16 requests are certainly in flight to it, then killed with SIGKILL: its
    /// kernel resets the connections, every request fails at once with NodeDownException (connection_closed) instead of
    /// waiting 30 s for its timeout, and both peers see it go down. Started again, it comes back with a new creation,
    /// NodeUp once on each peer, and answers.
    /// </summary>
    [IptablesFact]
    public async Task RequestAsync_NodeKilledWithRequestsInFlight_RequestsFailFastAndRestartedNodeRejoinsWithNewCreation()
    {
        await using var nodes = await LanNodes.CreateAsync(3, tickTime: null);
        var hostC = nodes.Host(2);
        await using var c = NamespaceNode.Start(hostC.Namespace, nodes.Name(2), hostC.IPv4, LanNodes.Port, DefaultTickTime);
        var (victim, peer) = await StartMeshAsync(nodes, c);
        var victimName = NodeName.Parse(victim.Name);
        var oldCreation = c.Manager.GetConnection(victimName)!.PeerCreation;
        var marks = (Peer: peer.Lines.Length, C: c.Changes.Count);

        victim.Signal("STOP");
        var requests = Enumerable.Range(0, InFlight)
            .Select(i => TimedAsync(() => c.Cluster.RequestAsync(victimName, "echo", new byte[] { (byte)i }, RequestTimeout).AsTask()))
            .ToArray();
        requests.Should().OnlyContain(r => !r.IsCompleted, "a frozen node answers nothing: the requests are in flight");

        var killed = Stopwatch.GetTimestamp();
        await nodes.KillAsync(0);
        var outcomes = await Task.WhenAll(requests).WaitAsync(RequestTimeout + LanNodes.Timeout);

        var slowest = outcomes.Max(o => Stopwatch.GetElapsedTime(killed, o.At));
        output.WriteLine($"{InFlight} requests in flight to the killed node all failed within {slowest.TotalMilliseconds:0} ms of SIGKILL (their timeout: {RequestTimeout.TotalSeconds:0} s)");
        foreach (var (error, _) in outcomes)
        {
            error.Should().BeOfType<NodeDownException>("a request to a node that died fails with NodeDownException");
            error!.Message.Should().Contain(victim.Name).And.Contain(DisconnectReasons.ConnectionClosed, "the error names the node and why it is down");
        }

        slowest.Should().BeLessThan(FailFast, "requests in flight fail as soon as the connection breaks, not at their timeout");
        var after = async () => await c.Cluster.RequestAsync(victimName, "echo", new byte[] { 1 }, RequestTimeout).AsTask().WaitAsync(FailFast);
        (await after.Should().ThrowAsync<NodeDownException>("a request to a node known to be down fails at once")).Which.Message.Should().Contain("not_connected");

        var peerSawDown = await peer.WaitForLineAsync(l => l.StartsWith($"DOWN {victim.Name} ", StringComparison.Ordinal), FailFast, "the peer sees the killed node go down", marks.Peer);
        peerSawDown.Should().EndWith(DisconnectReasons.ConnectionClosed);

        var restarted = Stopwatch.GetTimestamp();
        var reborn = nodes.Start(0);
        var up = await peer.WaitForLineAsync(l => l.StartsWith($"UP {victim.Name} ", StringComparison.Ordinal), LanNodes.Timeout, "the peer sees the restarted node", marks.Peer);
        var upAtC = await c.Changes.WaitForAsync(ch => ch.Kind == MembershipChangeKind.NodeUp && ch.Node == victimName, LanNodes.Timeout, "c sees the restarted node", marks.C);
        output.WriteLine($"restarted node up on both peers {Stopwatch.GetElapsedTime(restarted).TotalSeconds:0.000} s after its process was started again");

        var newCreation = upAtC.Change.Creation;
        newCreation.Should().NotBe(oldCreation, "a restarted node has a new creation");
        up.Split(' ')[2].Should().Be(newCreation.ToString(System.Globalization.CultureInfo.InvariantCulture), "both peers see the same new life");
        await nodes.WaitConnectedAsync(0, [1, 2]);
        var reply = await c.Cluster.RequestAsync(victimName, "echo", "back"u8.ToArray(), RequestTimeout).AsTask().WaitAsync(RequestTimeout);
        reply.Payload.ToArray().Should().Equal("back"u8.ToArray());

        c.Changes.For(victimName, marks.C).Select(ch => (ch.Kind, ch.Change.Creation, ch.Change.Reason)).Should().Equal(
            (MembershipChangeKind.NodeDown, oldCreation, DisconnectReasons.ConnectionClosed),
            (MembershipChangeKind.NodeUp, newCreation, string.Empty));
        peer.Lines.Skip(marks.Peer).Should().Equal($"DOWN {victim.Name} {DisconnectReasons.ConnectionClosed}", up);
        reborn.HasExited.Should().BeFalse();
    }

    /// <summary>
    /// The victim's host vanishes: iptables in its namespace drops everything it sends on its connections (their FIN
    /// and RST included) and the process is killed, so the peers still hold connections to its previous life that look
    /// alive (half-open). Started again, it dials them; each peer replaces the old connection because the creation
    /// differs: NodeDown(old, restarted) strictly before NodeUp(new), long before a tick timeout could have found it.
    /// </summary>
    [IptablesFact]
    public async Task Handshake_NodeRestartsAfterItsHostVanished_PeersReplaceTheHalfOpenConnectionsWithTheNewCreation()
    {
        await using var nodes = await LanNodes.CreateAsync(3, tickTime: null);
        var hostC = nodes.Host(2);
        await using var c = NamespaceNode.Start(hostC.Namespace, nodes.Name(2), hostC.IPv4, LanNodes.Port, DefaultTickTime);
        var (victim, peer) = await StartMeshAsync(nodes, c);
        var victimName = NodeName.Parse(victim.Name);
        var oldCreation = c.Manager.GetConnection(victimName)!.PeerCreation;
        var marks = (Peer: peer.Lines.Length, C: c.Changes.Count);

        var connections = await SocketCensus.ConnectionsAsync(nodes.Host(0).Namespace, LanNodes.Port).WaitAsync(LanNodes.Timeout);
        connections.Should().HaveCount(2, "the victim has one connection with each of its two peers");
        foreach (var (localPort, remoteAddress, remotePort) in connections)
        {
            await Iptables.SilenceConnectionAsync(nodes.Host(0).Namespace, localPort, remoteAddress, remotePort).WaitAsync(LanNodes.Timeout);
        }

        await nodes.KillAsync(0);
        peer.Lines.Skip(marks.Peer).Should().BeEmpty("the peer cannot tell that the host vanished");
        c.Changes.Snapshot(marks.C).Should().BeEmpty("c cannot tell that the host vanished");
        c.Manager.IsConnected(victimName).Should().BeTrue();

        var restarted = Stopwatch.GetTimestamp();
        nodes.Start(0);
        var up = await peer.WaitForLineAsync(l => l.StartsWith($"UP {victim.Name} ", StringComparison.Ordinal), LanNodes.Timeout, "the peer sees the new life", marks.Peer);
        var upAtC = await c.Changes.WaitForAsync(ch => ch.Kind == MembershipChangeKind.NodeUp && ch.Node == victimName, LanNodes.Timeout, "c sees the new life", marks.C);
        var replaced = Stopwatch.GetElapsedTime(restarted);
        output.WriteLine($"half-open connections replaced by the new life {replaced.TotalSeconds:0.000} s after its process was started again (TickTime {DefaultTickTime.TotalSeconds:0} s)");

        var newCreation = upAtC.Change.Creation;
        newCreation.Should().NotBe(oldCreation);
        replaced.Should().BeLessThan(DefaultTickTime, "the new creation, not a tick timeout, ends the previous life's connections");
        c.Changes.For(victimName, marks.C).Select(ch => (ch.Kind, ch.Change.Creation, ch.Change.Reason)).Should().Equal(
            (MembershipChangeKind.NodeDown, oldCreation, DisconnectReasons.Restarted),
            (MembershipChangeKind.NodeUp, newCreation, string.Empty));
        peer.Lines.Skip(marks.Peer).Should().Equal($"DOWN {victim.Name} {DisconnectReasons.Restarted}", up);
        up.Split(' ')[2].Should().Be(newCreation.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await nodes.WaitConnectedAsync(0, [1, 2]);
        var reply = await c.Cluster.RequestAsync(victimName, "echo", "new life"u8.ToArray(), RequestTimeout).AsTask().WaitAsync(RequestTimeout);
        reply.Payload.ToArray().Should().Equal("new life"u8.ToArray());
    }

    /// <summary>Starts the victim (host 0) and the peer (host 1) and waits until the three form a full mesh.</summary>
    private static async Task<(NodeProcess Victim, NodeProcess Peer)> StartMeshAsync(LanNodes nodes, NamespaceNode c)
    {
        var victim = nodes.Start(0);
        var peer = nodes.Start(1);
        await nodes.WaitListeningAsync(0);
        await nodes.WaitListeningAsync(1);
        await nodes.WaitConnectedAsync(0, [1, 2]);
        await nodes.WaitConnectedAsync(1, [0, 2]);
        await Eventually.TrueAsync(
            () => c.Manager.IsConnected(NodeName.Parse(victim.Name)) && c.Manager.IsConnected(NodeName.Parse(peer.Name)),
            LanNodes.Timeout,
            "c is connected to both",
            () => c.Changes.Describe());
        return (victim, peer);
    }

    /// <summary>Runs <paramref name="request"/>; returns its error (null on success) and when it finished.</summary>
    private static async Task<(Exception? Error, long At)> TimedAsync(Func<Task> request)
    {
        try
        {
            await request().WaitAsync(RequestTimeout + LanNodes.Timeout);
            return (null, Stopwatch.GetTimestamp());
        }
        catch (Exception ex) when (ex is ClusterException or TimeoutException)
        {
            return (ex, Stopwatch.GetTimestamp());
        }
    }
}
