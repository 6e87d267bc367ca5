using System.Net;
using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh;
using LibCluster.Mesh.Handshake;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// A client that fails the handshake over and over cannot flood the node's log: warning 1004 is logged for the first
/// failure from each address, the others are only counted (every one in <c>libcluster.handshake.failures</c>), and a
/// summary (event 1009) says how many were not logged once the address's window is over (at the next tick) or when
/// the node stops. Garbage is not an authentication failure, so the node keeps accepting peers, even from those
/// addresses.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class WarningFloodTests(ITestOutputHelper output)
{
    private const int InboundHandshakeFailed = 1004;
    private const int Suppressed = 1009;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly IPAddress Flooder = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress OtherFlooder = IPAddress.Parse("127.0.0.3");
    private static readonly byte[] Http = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");

    [Fact]
    public async Task Listener_50GarbageConnectionsFromTwoAddresses_OneWarningPerAddressEveryFailureCountedAndPeersStillAccepted()
    {
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();

        // All at once: 40 from one address, 10 from another (fewer than MaxPendingHandshakes, so none is refused).
        var sources = Enumerable.Repeat(Flooder, 40).Concat(Enumerable.Repeat(OtherFlooder, 10)).ToArray();
        await Task.WhenAll(sources.Select(source => SendGarbageAsync(target, source))).WaitAsync(Timeout);

        await Eventually.TrueAsync(() => target.Counters.HandshakeFailures("frame_too_large") == 50, Timeout, "every failed handshake is counted");
        var warnings = target.Log.WarningsWithEventId(InboundHandshakeFailed);
        output.WriteLine($"{warnings.Count} event 1004 lines: {string.Join(" | ", warnings.Select(e => e.Message))}");
        warnings.Should().HaveCount(2, "one line per address, not one per connection")
            .And.OnlyContain(e => e.Level == LogLevel.Warning && e.Value("Reason") == "frame_too_large");
        warnings.Select(e => e.Value("RemoteEndPoint")!.Split(':')[0]).Should().BeEquivalentTo(["127.0.0.2", "127.0.0.3"]);
        target.Log.WarningsWithEventId(Suppressed).Should().BeEmpty("the windows (one minute) are not over yet");
        target.Counters.HandshakeFailures("rate_limited").Should().Be(0, "garbage is not an authentication failure");

        // A good node connects and is served; so is one from a flooding address.
        var good = group.Add(TestNode.Start("good"));
        await good.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await target.AssertServesAsync(good, Timeout, "a good node is accepted after the flood");
        await using (var fromFlooder = await HostilePeer.ConnectAsync(target.EndPoint, Flooder, Timeout))
        {
            var outcome = await fromFlooder.HandshakeAsync(target.Name, "neighbour", TestNode.Cookie, Timeout);
            outcome.Verdict.Should().Be(HandshakeVerdict.Ok, "the flooder's address is not cooled down");
        }

        // Stopping the node says what was not logged.
        await target.Manager.DisposeAsync();
        var summaries = target.Log.WarningsWithEventId(Suppressed);
        output.WriteLine(string.Join(Environment.NewLine, summaries.Select(e => e.Message)));
        summaries.Select(e => (e.Value("RemoteAddress"), e.Value("SuppressedCount"), e.Value("ThrottledEventId"), e.Value("Reason")))
            .Should().BeEquivalentTo([("127.0.0.2", "39", "1004", "frame_too_large"), ("127.0.0.3", "9", "1004", "frame_too_large")]);
        target.Log.WarningsWithEventId(InboundHandshakeFailed).Should().HaveCount(2);
    }

    [Fact]
    public async Task Listener_GarbageFloodThenTheWindowIsOver_TheNextTickLogsTheSummary()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var target = HostileTarget.Start(time: time);

        for (var i = 0; i < 10; i++)
        {
            await SendGarbageAsync(target, Flooder);
        }

        await Eventually.TrueAsync(() => target.Counters.HandshakeFailures("frame_too_large") == 10, Timeout, "every failed handshake is counted");
        target.Log.WarningsWithEventId(InboundHandshakeFailed).Should().ContainSingle();

        // The fake clock runs the node's tick timer (every TickTime / 4) as it advances past the end of the window.
        time.Advance(AddressWarningThrottle.DefaultWindow - TimeSpan.FromSeconds(5));
        target.Log.WarningsWithEventId(Suppressed).Should().BeEmpty("the window is not over yet");
        time.Advance(TimeSpan.FromSeconds(10));

        await Eventually.TrueAsync(() => target.Log.WarningsWithEventId(Suppressed).Count > 0, Timeout, "the tick after the window logs the summary");
        var summary = target.Log.WarningsWithEventId(Suppressed).Should().ContainSingle().Which;
        summary.Value("SuppressedCount").Should().Be("9");
        summary.Value("RemoteAddress").Should().Be("127.0.0.2");
        summary.Value("WindowSeconds").Should().Be("60");

        await SendGarbageAsync(target, Flooder);
        await Eventually.TrueAsync(() => target.Log.WarningsWithEventId(InboundHandshakeFailed).Count == 2, Timeout, "the first failure of a new window is logged again");
    }

    /// <summary>Connects from <paramref name="source"/>, sends an HTTP request instead of a HELLO and waits until the node closes.</summary>
    private static async Task SendGarbageAsync(HostileTarget target, IPAddress source)
    {
        using var socket = await HostileSocket.ConnectAsync(target.EndPoint, source, Timeout);
        await HostileSocket.TrySendAsync(socket, Http, Timeout);
        await RawTcp.ReadUntilClosedAsync(socket, Timeout);
    }
}
