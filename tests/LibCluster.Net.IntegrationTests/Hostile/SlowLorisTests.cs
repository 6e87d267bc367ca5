using System.Diagnostics;
using System.Net.Sockets;
using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// Slow-loris handshakes: hundreds of connections that each send one byte of a HELLO every quarter of a second and never
/// finish. The node closes each at its handshake timeout, keeps serving the peer it has and accepts a new one meanwhile,
/// and its memory and thread count stay bounded. (ListenerAbuseTests covers connections that send nothing at all.)
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class SlowLorisTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Drip = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task Listener_200SlowLorisHandshakes_EachClosedAtTheHandshakeTimeoutWhilePeersAreServed()
    {
        const int attackers = 200;
        var handshakeTimeout = TimeSpan.FromSeconds(2);
        await using var target = HostileTarget.Start(handshakeTimeout: handshakeTimeout, maxPendingHandshakes: 256);
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await target.AssertServesAsync(peer, Timeout, "before the attack");
        var before = ProcessFootprint.Measure();
        var peakThreads = before.Threads;
        var hello = RawTcp.HelloFrame(NodeName.Parse("slow@127.0.0.1"));
        hello.Length.Should().BeGreaterThan((int)(handshakeTimeout * 2 / Drip), "at this pace no HELLO could be complete before the timeout");

        var attacks = Enumerable.Range(0, attackers).Select(_ => DripAsync(target, hello)).ToArray();
        await Eventually.TrueAsync(() => target.Manager.PendingInboundHandshakes == attackers, Timeout, $"all {attackers} slow handshakes are in progress");
        for (var i = 0; i < 5; i++)
        {
            await target.AssertServesAsync(peer, Timeout, $"round trip {i} during the attack");
        }

        var latecomer = group.Add(TestNode.Start("latecomer"));
        await latecomer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await target.AssertServesAsync(latecomer, Timeout, "a node that connects during the attack is served");
        using (var process = Process.GetCurrentProcess())
        {
            peakThreads = Math.Max(peakThreads, process.Threads.Count);
        }

        var lifetimes = await Task.WhenAll(attacks).WaitAsync(Timeout);

        lifetimes.Should().OnlyContain(
            t => t >= handshakeTimeout - TimeSpan.FromMilliseconds(100) && t < handshakeTimeout + TimeSpan.FromSeconds(1.5),
            "each slow handshake is closed at the handshake timeout, however regularly it sends");
        await Eventually.TrueAsync(() => target.Manager.PendingInboundHandshakes == 0, Timeout, "every handshake slot is given back");
        target.Counters.HandshakeFailures("timeout").Should().Be(attackers);
        target.Log.WarningsWithEventId(1004).Should().ContainSingle("the warning is throttled per address (all attackers are 127.0.0.1); the counter has every failure")
            .Which.Value("Reason").Should().Be("timeout");
        target.Cluster.ConnectedNodes.Should().BeEquivalentTo([peer.Name, latecomer.Name]);
        await target.AssertServesAsync(peer, Timeout, "after the attack");
        var after = ProcessFootprint.Measure();
        output.WriteLine($"lifetimes {lifetimes.Min().TotalMilliseconds:0} - {lifetimes.Max().TotalMilliseconds:0} ms (timeout {handshakeTimeout.TotalMilliseconds:0} ms); before {before}, peak {peakThreads} threads, after {after}");
        (after.ManagedBytes - before.ManagedBytes).Should().BeLessThan(16 * 1024 * 1024, $"memory is bounded ({before} before, {after} after)");
        (peakThreads - before.Threads).Should().BeLessThan(40, $"the attack does not take a thread per connection ({before} before, peak {peakThreads} threads)");
    }

    /// <summary>Connects and sends one byte of <paramref name="hello"/> per <see cref="Drip"/> until the node closes; returns how long the connection lived.</summary>
    private static async Task<TimeSpan> DripAsync(HostileTarget target, byte[] hello)
    {
        using var socket = await HostileSocket.ConnectAsync(target.EndPoint, null, Timeout);
        var clock = Stopwatch.StartNew();
        var closed = RawTcp.ReadUntilClosedAsync(socket, Timeout);
        using var pace = new PeriodicTimer(Drip);
        var sent = 0;
        while (!closed.IsCompleted && sent < hello.Length)
        {
            if (!await HostileSocket.TrySendAsync(socket, hello.AsMemory(sent++, 1), Timeout))
            {
                break;
            }

            // The attack itself (a byte every 250 ms), not a wait for a condition: the loop ends when the node closes.
            await Task.WhenAny(closed, pace.WaitForNextTickAsync().AsTask());
        }

        await closed;
        return clock.Elapsed;
    }
}
