using System.Net;
using LibCluster.Strategies.Gossip;
using LibCluster.Tests.Strategies.Gossip;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// Floods of hostile gossip datagrams from thousands of sources: every one is dropped and counted by reason, and the log
/// gets at most one warning per reason (per minute), however many arrive. Extends GossipStrategyTests, whose bursts are
/// of tens of packets from one source.
/// </summary>
public sealed class GossipFloodTests
{
    private const int DroppedWarning = 2308;
    private const int DroppedDebug = 2309;

    private static GossipStrategyOptions Options(string? secret = null) => new()
    {
        HeartbeatInterval = TimeSpan.FromSeconds(1),
        Secret = secret,
    };

    [Fact]
    public async Task WatchAsync_TenThousandForgedReplayedTruncatedAndOversizedPackets_AllDroppedAndAtMostOneWarningPerReason()
    {
        await using var harness = new GossipHarness(Options(GossipHarness.Secret));
        await harness.StartAsync();
        var now = harness.Time.GetUtcNow();
        var captured = Heartbeats.Sealed("b@10.0.0.2", GossipHarness.Secret, now);
        harness.Deliver(captured);
        (await harness.NextSetAsync()).Should().ContainSingle();

        var random = new Random(2308);
        var packets = new List<byte[]>();
        for (var i = 0; i < 10_000; i++)
        {
            packets.Add((i % 5) switch
            {
                0 => Forged(captured, random), // bad_seal
                1 => captured, // replayed
                2 => captured[..random.Next(captured.Length - 1)], // truncated: bad_seal, or malformed when shorter than any heartbeat
                3 => Oversized(captured, random), // malformed
                _ => Heartbeats.Sealed($"ghost{i}@10.9.0.1", GossipHarness.Secret, now - TimeSpan.FromHours(1)), // stale
            });
        }

        for (var i = 0; i < packets.Count; i++)
        {
            harness.Transport.Deliver(packets[i], new IPEndPoint(new IPAddress([198, 51, (byte)(i / 250), (byte)(i % 250)]), 45892));
        }

        await harness.Transport.WaitHandledAsync();

        var dropped = new[] { GossipDropReasons.BadSeal, GossipDropReasons.Replayed, GossipDropReasons.Malformed, GossipDropReasons.Stale }
            .Sum(harness.Dropped);
        dropped.Should().Be(10_000, "every hostile packet is dropped and counted");
        harness.Dropped(GossipDropReasons.Replayed).Should().Be(2_000);
        harness.Dropped(GossipDropReasons.Stale).Should().Be(2_000);
        var records = harness.Logs.Records;
        records.Count(r => r.Level >= LogLevel.Warning).Should().Be(4, "one warning for each of the four reasons, not one per packet");
        records.Where(r => r.Level >= LogLevel.Warning).Should().OnlyContain(r => r.EventId == DroppedWarning);
        records.Count(r => r.EventId == DroppedDebug).Should().Be(10_000 - 4);
        harness.HasYielded.Should().BeFalse("no hostile packet changed the set");
    }

    [Fact]
    public async Task WatchAsync_TenThousandNewNamesWithoutASecret_KnowsAtMostTheCapAndLogsAtMost64AsInformation()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        for (var i = 0; i < 10_000; i++)
        {
            harness.Transport.Deliver(Heartbeats.Plain($"n{i}@10.{i / 250 % 250}.{i % 250}.1"), new IPEndPoint(new IPAddress([203, 0, (byte)(i / 250), (byte)(i % 250)]), 45892));
        }

        await harness.Transport.WaitHandledAsync();

        harness.Dropped(GossipDropReasons.TooManyNodes).Should().Be(10_000 - GossipStrategy.MaxNodes, "the table of known nodes is bounded");
        var records = harness.Logs.Records;
        records.Count(r => r.Level == LogLevel.Information && r.EventId == 2303).Should().Be(GossipInbox.NoteworthyPerMinute);
        records.Count(r => r.Level >= LogLevel.Warning).Should().Be(1, "one warning for too_many_nodes");
        var largest = 0;
        while (largest < GossipStrategy.MaxNodes)
        {
            largest = Math.Max(largest, (await harness.NextSetAsync()).Count);
        }

        largest.Should().Be(GossipStrategy.MaxNodes);
    }

    private static byte[] Forged(byte[] captured, Random random)
    {
        var forged = (byte[])captured.Clone();
        var at = GossipPacket.HeaderLength + 8 + random.Next(forged.Length - GossipPacket.HeaderLength - 8);
        forged[at] ^= (byte)(1 << random.Next(8));
        return forged;
    }

    private static byte[] Oversized(byte[] captured, Random random)
    {
        var oversized = new byte[GossipPacket.MaxLength + 1 + random.Next(1200)];
        captured.CopyTo(oversized, 0);
        return oversized;
    }
}
