using System.Net;
using System.Net.Sockets;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Strategies.Gossip;

/// <summary>The gossip strategy's enumeration on a fake clock and an in-memory transport: no sockets, no wall clock.</summary>
public sealed class GossipStrategyTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private static GossipStrategyOptions Options(string? secret = null, TimeSpan? expireAfter = null) => new()
    {
        HeartbeatInterval = Interval,
        ExpireAfter = expireAfter,
        Secret = secret,
    };

    [Fact]
    public async Task WatchAsync_Start_SendsAPlainHeartbeatWithNameCreationAndListeningPort()
    {
        await using var harness = new GossipHarness(Options(), defaultPort: 9123);

        await harness.StartAsync();

        var packet = await harness.Transport.NextSentAsync();
        GossipPacket.TryRead(packet, null, out var received).Should().Be(GossipReadStatus.Ok);
        received.Heartbeat.Should().Be(new GossipHeartbeat(GossipHarness.SelfName, GossipHarness.SelfCreation, 9123));
        received.Sealed.Should().BeFalse();
    }

    [Fact]
    public async Task WatchAsync_WithSecret_SendsSealedHeartbeatsStampedWithTheClock()
    {
        await using var harness = new GossipHarness(Options(GossipHarness.Secret));

        await harness.StartAsync();

        var packet = await harness.Transport.NextSentAsync();
        using var key = GossipKey.Derive(GossipHarness.Secret);
        GossipPacket.TryRead(packet, key, out var received).Should().Be(GossipReadStatus.Ok);
        received.Sealed.Should().BeTrue();
        received.Heartbeat.Name.Should().Be(GossipHarness.SelfName);
        received.TimestampMs.Should().Be(harness.Time.GetUtcNow().ToUnixTimeMilliseconds());
        GossipPacket.TryRead(packet, null, out _).Should().Be(GossipReadStatus.WrongCluster, "a node without the secret cannot read it");
    }

    [Fact]
    public async Task WatchAsync_HeartbeatFromAnotherNode_YieldsTheHostInItsNameAndTheAnnouncedPort()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        // Sent from another address than the one in the name: the node is dialled at its advertised host.
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2", port: 9123), new IPEndPoint(IPAddress.Parse("192.0.2.99"), 45892));

        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9123)]);
    }

    [Fact]
    public async Task WatchAsync_OwnHeartbeat_IsIgnoredWithoutCountingADrop()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        await harness.DeliverAndWaitAsync(await harness.Transport.NextSentAsync());
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));

        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9001)]);
        harness.Dropped(GossipDropReasons.NameConflict).Should().Be(0);
    }

    [Fact]
    public async Task WatchAsync_OurNameWithAnotherCreation_IsDroppedAsANameConflict()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        await harness.DeliverAndWaitAsync(Heartbeats.Plain(GossipHarness.SelfName.Value, creation: 999));

        harness.Dropped(GossipDropReasons.NameConflict).Should().Be(1);
        harness.Logs.Records.Should().ContainSingle(r => r.EventId == 2308 && r.Level == LogLevel.Warning)
            .Which.Message.Should().Contain("name_conflict");
        harness.HasYielded.Should().BeFalse();
    }

    [Fact]
    public async Task WatchAsync_SeveralNodes_YieldsOnlyWhenTheSetChanges()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));
        (await harness.NextSetAsync()).Should().HaveCount(1);

        // b again (same creation and port), then c: the next set is the first one after b's repeat.
        await harness.DeliverAndWaitAsync(Heartbeats.Plain("b@10.0.0.2"), Heartbeats.Plain("b@10.0.0.2"));
        harness.HasYielded.Should().BeFalse("hearing a known node again changes nothing");
        harness.Deliver(Heartbeats.Plain("c@10.0.0.3", port: 9002));

        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9001), GossipHarness.Address("c@10.0.0.3", 9002)]);
    }

    [Fact]
    public async Task WatchAsync_NodeSilentForExpireAfter_IsForgottenThen()
    {
        var expireAfter = TimeSpan.FromSeconds(3);
        await using var harness = new GossipHarness(Options(expireAfter: expireAfter));
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));
        (await harness.NextSetAsync()).Should().HaveCount(1);

        // Just before ExpireAfter, b is still there: a heartbeat from c yields both.
        harness.Time.Advance(expireAfter - TimeSpan.FromMilliseconds(1));
        harness.Deliver(Heartbeats.Plain("c@10.0.0.3"));
        (await harness.NextSetAsync()).Select(n => n.Name.Value).Should().BeEquivalentTo("b@10.0.0.2", "c@10.0.0.3");

        harness.Time.Advance(TimeSpan.FromMilliseconds(1));

        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("c@10.0.0.3", 9001)]);
        harness.Logs.Records.Should().ContainSingle(r => r.EventId == 2304).Which.Message.Should().Contain("b@10.0.0.2");
    }

    [Fact]
    public async Task WatchAsync_DefaultExpireAfter_IsThreeHeartbeatIntervals()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));
        (await harness.NextSetAsync()).Should().HaveCount(1);

        harness.Time.Advance((Interval * 3) - TimeSpan.FromMilliseconds(1));
        harness.HasYielded.Should().BeFalse();
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));

        (await harness.NextSetAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task WatchAsync_NodeHeardRegularly_IsKept()
    {
        var expireAfter = TimeSpan.FromSeconds(3);
        await using var harness = new GossipHarness(Options(expireAfter: expireAfter));
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));
        (await harness.NextSetAsync()).Should().HaveCount(1);

        for (var i = 0; i < 10; i++)
        {
            harness.Time.Advance(TimeSpan.FromSeconds(2));
            await harness.DeliverAndWaitAsync(Heartbeats.Plain("b@10.0.0.2"));
        }

        harness.HasYielded.Should().BeFalse("b was heard every 2 s and expires only after 3 s of silence");
        harness.Time.Advance(expireAfter);
        (await harness.NextSetAsync()).Should().BeEmpty();
    }

    [Fact]
    public async Task WatchAsync_KnownNodeWithNewCreationAndPort_IsUpdated()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2", creation: 1, port: 9001));
        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9001)]);

        harness.Deliver(Heartbeats.Plain("b@10.0.0.2", creation: 2, port: 9002));

        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9002)]);
        harness.Logs.Records.Should().Contain(r => r.EventId == 2305 && r.Message.Contains("b@10.0.0.2"));
        harness.Logs.Records.Should().Contain(r => r.EventId == 2307 && r.Message.Contains("9002"));
    }

    [Fact]
    public async Task WatchAsync_KnownNodeWithNewCreationOnly_KeepsItsPlaceAndIsLogged()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2", creation: 1));
        (await harness.NextSetAsync()).Should().HaveCount(1);

        await harness.DeliverAndWaitAsync(Heartbeats.Plain("b@10.0.0.2", creation: 2));

        harness.HasYielded.Should().BeFalse("the address did not change");
        harness.Logs.Records.Should().ContainSingle(r => r.EventId == 2305);
    }

    [Fact]
    public async Task WatchAsync_Heartbeats_AreSentEveryIntervalWithinTwentyPercent()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();
        await harness.Transport.NextSentAsync();

        for (var i = 0; i < 5; i++)
        {
            // With no node known, the send loop's timer is the only one.
            var step = await harness.Time.AdvanceToNextTimerAsync();
            await harness.Transport.NextSentAsync();

            step.Should().BeGreaterThanOrEqualTo(Interval * 0.8).And.BeLessThanOrEqualTo(Interval * 1.2);
        }
    }

    [Fact]
    public async Task WatchAsync_NodeHeardForTheFirstTime_IsAnsweredAfterAFifthOfTheInterval()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();
        await harness.Transport.NextSentAsync();

        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));
        (await harness.NextSetAsync()).Should().HaveCount(1);
        await Eventually.TrueAsync(() => harness.Time.NextDeadline == harness.Time.GetUtcNow() + (Interval / 5), "the answer is scheduled a fifth of the interval after the first heartbeat");
        harness.Time.Advance(Interval / 5);

        await harness.Transport.NextSentAsync();
        harness.Transport.SentCount.Should().Be(2);
    }

    [Fact]
    public async Task WatchAsync_GarbageBetweenHeartbeats_IsDroppedAndTheLoopGoesOn()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        await harness.DeliverAndWaitAsync(
            [],
            [0x4C],
            "LCGH"u8.ToArray(),
            new byte[65000],
            [.. Heartbeats.Plain("x@10.0.0.9"), 0],
            Heartbeats.Plain("x@10.0.0.9")[..^1],
            System.Security.Cryptography.RandomNumberGenerator.GetBytes(300));
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));

        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9001)]);
        harness.Dropped(GossipDropReasons.Malformed).Should().Be(7);
    }

    [Fact]
    public async Task WatchAsync_OversizedDatagramReportedBySocket_IsDroppedAndTheLoopGoesOn()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        harness.Transport.DeliverError(new SocketException((int)SocketError.MessageSize));
        await harness.Transport.WaitHandledAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));

        (await harness.NextSetAsync()).Should().HaveCount(1);
        harness.Dropped(GossipDropReasons.Malformed).Should().Be(1);
    }

    [Fact]
    public async Task WatchAsync_ReceiveFailsForGood_ThrowsSoThatTheSupervisorRestartsIt()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        harness.Transport.DeliverError(new SocketException((int)SocketError.NotSocket));

        var next = async () => await harness.NextSetAsync();
        await next.Should().ThrowAsync<SocketException>();
        await Eventually.TrueAsync(() => harness.Transport.IsDisposed, "the failed enumeration released its transport");
    }

    [Fact]
    public async Task WatchAsync_SealedCluster_RefusesPlainForgedReplayedAndStaleHeartbeats()
    {
        await using var harness = new GossipHarness(Options(GossipHarness.Secret));
        await harness.StartAsync();
        var now = harness.Time.GetUtcNow();
        var good = Heartbeats.Sealed("b@10.0.0.2", GossipHarness.Secret, now);
        var forged = (byte[])good.Clone();
        forged[^1] ^= 0x01;

        await harness.DeliverAndWaitAsync(
            Heartbeats.Plain("p@10.0.0.5"),
            Heartbeats.Sealed("w@10.0.0.6", "another-secret-of-another-cluster-0123456789", now),
            forged,
            Heartbeats.Sealed("s@10.0.0.7", GossipHarness.Secret, now - harness.Options.ReplayWindow - TimeSpan.FromSeconds(1)));
        harness.Deliver(good);
        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9001)]);
        await harness.DeliverAndWaitAsync(good);

        harness.Dropped(GossipDropReasons.WrongCluster).Should().Be(2);
        harness.Dropped(GossipDropReasons.BadSeal).Should().Be(1);
        harness.Dropped(GossipDropReasons.Stale).Should().Be(1);
        harness.Dropped(GossipDropReasons.Replayed).Should().Be(1);
    }

    [Fact]
    public async Task WatchAsync_ReplayOfAForgottenNode_DoesNotBringItBack()
    {
        var expireAfter = TimeSpan.FromSeconds(3);
        await using var harness = new GossipHarness(Options(GossipHarness.Secret, expireAfter));
        await harness.StartAsync();
        var captured = Heartbeats.Sealed("b@10.0.0.2", GossipHarness.Secret, harness.Time.GetUtcNow());
        harness.Deliver(captured);
        (await harness.NextSetAsync()).Should().HaveCount(1);
        harness.Time.Advance(expireAfter);
        (await harness.NextSetAsync()).Should().BeEmpty();

        // Within the window the nonce is remembered; after it, the time stamp is stale.
        await harness.DeliverAndWaitAsync(captured);
        harness.Time.Advance(harness.Options.ReplayWindow + TimeSpan.FromSeconds(1));
        await harness.DeliverAndWaitAsync(captured);

        harness.HasYielded.Should().BeFalse();
        harness.Dropped(GossipDropReasons.Replayed).Should().Be(1);
        harness.Dropped(GossipDropReasons.Stale).Should().Be(1);
    }

    [Fact]
    public async Task WatchAsync_ManyBadPackets_WarnOncePerReasonPerMinute()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        await harness.DeliverAndWaitAsync(Enumerable.Range(0, 50).Select(_ => new byte[] { 1, 2, 3 }).ToArray());
        await harness.DeliverAndWaitAsync(Enumerable.Range(0, 5).Select(_ => Heartbeats.Sealed("w@10.0.0.6", GossipHarness.Secret, DateTimeOffset.UnixEpoch)).ToArray());

        var records = harness.Logs.Records;
        records.Count(r => r.EventId == 2308 && r.Level == LogLevel.Warning).Should().Be(2, "one warning for malformed, one for wrong_cluster");
        records.Count(r => r.EventId == 2309 && r.Level == LogLevel.Debug).Should().Be(49 + 4);

        harness.Time.Advance(TimeSpan.FromMinutes(1));
        await harness.DeliverAndWaitAsync(new byte[] { 1, 2, 3 });
        harness.Logs.Records.Where(r => r.EventId == 2308).Should().HaveCount(3)
            .And.Subject.Last().Message.Should().Contain("49 more dropped");
        harness.Dropped(GossipDropReasons.Malformed).Should().Be(51);
    }

    [Fact]
    public async Task WatchAsync_BurstOfNewNodes_LogsAtMost64AsInformationPerMinute()
    {
        // Without a secret anyone can announce names; a burst of them must not flood the log.
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();

        await harness.DeliverAndWaitAsync(Enumerable.Range(0, 100).Select(i => Heartbeats.Plain($"n{i}@10.0.1.{i}")).ToArray());

        var records = harness.Logs.Records;
        records.Count(r => r.EventId == 2303 && r.Level == LogLevel.Information).Should().Be(GossipInbox.NoteworthyPerMinute);
        records.Count(r => r.EventId == 2314 && r.Level == LogLevel.Debug).Should().Be(100 - GossipInbox.NoteworthyPerMinute);

        // The burst may be yielded in several steps; each is bounded by the harness's timeout.
        while ((await harness.NextSetAsync()).Count < 100)
        {
        }
    }

    [Fact]
    public async Task WatchAsync_WithSecret_NeverLogsTheSecret()
    {
        await using var harness = new GossipHarness(Options(GossipHarness.Secret));
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Sealed("b@10.0.0.2", GossipHarness.Secret, harness.Time.GetUtcNow()));
        await harness.NextSetAsync();
        await harness.DeliverAndWaitAsync(Heartbeats.Plain("p@10.0.0.5"), new byte[] { 9, 9, 9 }, Heartbeats.Sealed("w@10.0.0.6", "another-secret-of-another-cluster-0123456789", harness.Time.GetUtcNow()));
        await harness.StopAsync();

        harness.Logs.Records.Should().NotBeEmpty();
        harness.Logs.Records.Should().NotContain(r => r.Message.Contains(GossipHarness.Secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task WatchAsync_Cancelled_EndsAndReleasesTheTransport()
    {
        await using var harness = new GossipHarness(Options());
        await harness.StartAsync();
        var transport = harness.Transport;

        await harness.StopAsync();

        transport.IsDisposed.Should().BeTrue();
        harness.Logs.Records.Should().Contain(r => r.EventId == 2302);
    }

    [Fact]
    public async Task WatchAsync_Restarted_KeepsKnownNodesForAnotherExpireAfter()
    {
        var expireAfter = TimeSpan.FromSeconds(3);
        await using var harness = new GossipHarness(Options(expireAfter: expireAfter));
        await harness.StartAsync();
        harness.Deliver(Heartbeats.Plain("b@10.0.0.2"));
        (await harness.NextSetAsync()).Should().HaveCount(1);
        await harness.StopAsync();

        // Silence while nothing listened proves nothing: b gets a whole ExpireAfter from the restart.
        harness.Time.Advance(TimeSpan.FromSeconds(10));
        await harness.StartAsync();
        (await harness.NextSetAsync()).Should().BeEquivalentTo([GossipHarness.Address("b@10.0.0.2", 9001)]);
        harness.Time.Advance(expireAfter - TimeSpan.FromMilliseconds(1));
        harness.HasYielded.Should().BeFalse();
        harness.Time.Advance(TimeSpan.FromMilliseconds(1));

        (await harness.NextSetAsync()).Should().BeEmpty();
        harness.Transports.Should().HaveCount(2);
        harness.Transports[0].IsDisposed.Should().BeTrue();
    }

    [Fact]
    public async Task WatchAsync_TransportFailsToOpen_Throws()
    {
        var strategy = new GossipStrategy(Options(), 1, _ => throw new InvalidOperationException("Gossip could not open the socket."));
        await using var harness = new GossipHarness(Options());

        var enumerate = async () =>
        {
            await foreach (var set in strategy.WatchAsync(harness.Context, CancellationToken.None))
            {
            }
        };

        await enumerate.Should().ThrowAsync<InvalidOperationException>().WithMessage("Gossip could not open*");
    }

    [Fact]
    public void Constructor_InvalidOptions_Throws()
    {
        var create = () => new GossipStrategy(new GossipStrategyOptions { MulticastAddress = "10.0.0.1" }, 1);

        create.Should().Throw<ArgumentException>().WithMessage("*MulticastAddress '10.0.0.1' is not a multicast address*");
    }

    [Fact]
    public void Jittered_ManyDraws_StayWithinTwentyPercentAndVary()
    {
        var draws = Enumerable.Range(0, 1000).Select(_ => GossipStrategy.Jittered(TimeSpan.FromSeconds(5))).ToList();

        draws.Should().OnlyContain(d => d >= TimeSpan.FromSeconds(4) && d <= TimeSpan.FromSeconds(6));
        draws.Distinct().Count().Should().BeGreaterThan(100);
    }
}
