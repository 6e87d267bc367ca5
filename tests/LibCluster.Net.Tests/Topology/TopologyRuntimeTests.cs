using LibCluster.Nodes;
using LibCluster.Topology;
using Microsoft.Extensions.Logging;
using static LibCluster.Tests.Topology.RuntimeHarness;

namespace LibCluster.Tests.Topology;

public sealed class TopologyRuntimeTests
{
    // Polly's exponential jitter ("decorrelated jitter v2") makes the time of the n-th retry (n >= 1) telescope to
    // f(n - 1 + r) * base / 1.4 with r in [0, 1) and f(t) = 2^t * tanh(sqrt(4t)), as long as no delay hits the cap.
    // The bounds below come from that; single delays vary too much to compare one by one.
    private static readonly TimeSpan ThreeRetriesAtMost = TimeSpan.FromSeconds(2.86);   // f(3) * 0.5 s / 1.4
    private static readonly TimeSpan SixRetriesAtLeast = TimeSpan.FromSeconds(11.4);    // f(5) * 0.5 s / 1.4
    private static readonly TimeSpan FirstRestartAtMost = TimeSpan.FromSeconds(1.38);   // f(1) * 1 s / 1.4

    [Fact]
    public async Task Start_TwoTopologies_DialsTheUnionOnce()
    {
        await using var h = new RuntimeHarness(topologies: 2);
        NodeAddress b = Node("b"), c = Node("c"), d = Node("d");
        h.Strategies[0].Yield(b, c);
        h.Strategies[1].Yield(c, d);

        h.Runtime.Start();

        await h.WaitDesiredAsync(b, c, d);
        await h.WaitConnectedAsync(b, c, d);
        h.Connector.Dials.Select(x => x.Address).Should().BeEquivalentTo([b, c, d]);
        h.Connector.Disconnects.Should().BeEmpty();
    }

    [Fact]
    public async Task Start_ReturnsAtOnce_AndStrategiesGetTheirContext()
    {
        await using var h = new RuntimeHarness(options: new TopologyRuntimeOptions { DefaultPort = 9555, Creation = 0xC0FFEE });

        h.Runtime.Start();

        await Eventually.TrueAsync(() => h.Strategy.LastContext is not null, "the strategy started");
        var context = h.Strategy.LastContext!;
        context.TopologyName.Should().Be("t1");
        context.Self.Should().Be(SelfName);
        context.DefaultPort.Should().Be(9555);
        context.Creation.Should().Be(0xC0FFEEu);
        context.TimeProvider.Should().BeSameAs(h.Time);
        context.Logger.Should().NotBeNull();
    }

    [Fact]
    public async Task Start_Twice_Throws()
    {
        await using var h = new RuntimeHarness();
        h.Runtime.Start();

        var act = h.Runtime.Start;

        act.Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public async Task Reconcile_NodeInBothTopologies_IsDisconnectedOnlyWhenBothDropIt()
    {
        await using var h = new RuntimeHarness(topologies: 2);
        NodeAddress b = Node("b"), c = Node("c"), e = Node("e");
        h.Strategies[0].Yield(b, c);
        h.Strategies[1].Yield(c);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b, c);

        h.Strategies[0].Yield(b, e);
        await h.WaitDesiredAsync(b, c, e);
        await h.WaitConnectedAsync(e);

        h.Connector.Disconnects.Should().BeEmpty();
        h.Connector.IsConnected(c.Name).Should().BeTrue();

        h.Strategies[1].Yield();
        await h.WaitDesiredAsync(b, e);
        await Eventually.TrueAsync(() => h.Connector.Disconnects.Contains(c.Name), "c disconnected");
        h.Connector.Disconnects.Should().Equal(c.Name);
    }

    [Fact]
    public async Task Reconcile_OnlyTopologyDropsNode_DisconnectsIt()
    {
        await using var h = new RuntimeHarness();
        NodeAddress b = Node("b"), c = Node("c");
        h.Strategy.Yield(b, c);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b, c);

        h.Strategy.Yield(b);

        await Eventually.TrueAsync(() => !h.Connector.IsConnected(c.Name), "c disconnected");
        h.Connector.Disconnects.Should().Equal(c.Name);
        h.Runtime.DesiredNodes.Should().BeEquivalentTo([b]);
    }

    [Fact]
    public async Task Reconcile_InboundNodeNobodyWanted_IsNeverDisconnected()
    {
        await using var h = new RuntimeHarness();
        NodeAddress b = Node("b"), c = Node("c"), x = Node("x");
        h.Connector.MarkUp(x.Name);
        h.Strategy.Yield(b, c);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b, c);

        h.Strategy.Yield(b);
        await Eventually.TrueAsync(() => h.Connector.Disconnects.Contains(c.Name), "c disconnected");
        h.Strategy.Yield();
        await Eventually.TrueAsync(() => h.Connector.Disconnects.Contains(b.Name), "b disconnected");

        h.Connector.Disconnects.Should().BeEquivalentTo([c.Name, b.Name]);
        h.Connector.IsConnected(x.Name).Should().BeTrue();
        h.Connector.DialCount(x.Name).Should().Be(0);
    }

    [Fact]
    public async Task Reconcile_NodeDroppedWhileItsDialIsInFlight_IsDisconnectedWhenTheDialCompletes()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Connector.Hang(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1, "the dial to b is in flight");

        h.Strategy.Yield();
        await h.WaitDesiredAsync();
        h.Connector.Release(b.Name);

        await Eventually.TrueAsync(() => h.Connector.Disconnects.Contains(b.Name), "b disconnected once its dial completed");
        h.Connector.IsConnected(b.Name).Should().BeFalse();
    }

    [Fact]
    public async Task Start_SetContainsSelf_NeverDialsSelf()
    {
        await using var h = new RuntimeHarness();
        var self = new NodeAddress(SelfName, 9001);
        var b = Node("b");
        h.Strategy.Yield(self, b);

        h.Runtime.Start();

        await h.WaitConnectedAsync(b);
        h.Runtime.DesiredNodes.Should().BeEquivalentTo([b]);
        h.Connector.Dials.Should().NotContain(d => d.Address.Name == SelfName);
    }

    [Fact]
    public async Task Reconcile_SameNodeAtTwoAddresses_FirstTopologyWins()
    {
        await using var h = new RuntimeHarness(topologies: 2);
        NodeAddress first = Node("b", 9001), second = Node("b", 9002);
        h.Connector.Fail(first.Name);
        h.Strategies[1].Yield(second);
        h.Runtime.Start();
        await h.WaitDesiredAsync(second);
        await h.WaitDialCountAsync(second, 1);

        h.Strategies[0].Yield(first);

        await h.WaitDesiredAsync(first);
        await Eventually.TrueAsync(() => h.Connector.Dials.Any(d => d.Address == first), "b dialled at the first topology's address");
        h.Connector.Dials.Select(d => d.Address).Should().Equal(second, first);
    }

    [Fact]
    public async Task Dial_KeepsFailing_RetriesWithGrowingDelaysUpToTheCap()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Connector.Fail(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitDialCountAsync(b, 1);

        for (var attempt = 2; attempt <= 25; attempt++)
        {
            await h.Time.AdvanceToNextTimerAsync();
            await h.WaitDialCountAsync(b, attempt);
        }

        var times = h.Connector.DialTimes(b.Name);
        times.Should().HaveCount(25);
        (times[3] - times[0]).Should().BeLessThanOrEqualTo(ThreeRetriesAtMost, "the first retries come quickly");
        (times[6] - times[0]).Should().BeGreaterThanOrEqualTo(SixRetriesAtLeast, "the delays grow exponentially");
        var gaps = times.Zip(times.Skip(1), (x, y) => y - x).ToList();
        gaps.Should().OnlyContain(g => g > TimeSpan.Zero && g <= TimeSpan.FromSeconds(30));
        gaps.Max().Should().Be(TimeSpan.FromSeconds(30), "the delays reach the cap and stay under it");
    }

    [Fact]
    public async Task Dial_SucceedsAfterFailures_BackoffResets()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Connector.Fail(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitDialCountAsync(b, 1);
        for (var attempt = 2; attempt <= 8; attempt++)
        {
            await h.Time.AdvanceToNextTimerAsync();
            await h.WaitDialCountAsync(b, attempt);
        }

        h.Connector.Succeed(b.Name);
        await h.Time.AdvanceToNextTimerAsync();
        await h.WaitConnectedAsync(b);
        await Eventually.TrueAsync(() => h.Logs.Records.Any(r => r.EventId == 2009), "the recovery logged");

        // Down again, and unreachable: the redial is immediate and the retries start from the base delay again.
        h.Connector.Fail(b.Name);
        h.Connector.MarkDown(b.Name);
        await h.WaitDialCountAsync(b, 10);
        var start = h.Time.GetUtcNow();
        for (var attempt = 11; attempt <= 13; attempt++)
        {
            await h.Time.AdvanceToNextTimerAsync();
            await h.WaitDialCountAsync(b, attempt);
        }

        (h.Time.GetUtcNow() - start).Should().BeLessThanOrEqualTo(ThreeRetriesAtMost);
    }

    [Fact]
    public async Task Dial_KeepsFailing_WarnsOnFirstFailureThenAtMostEvery30Seconds()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Connector.Fail(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitDialCountAsync(b, 1);
        for (var attempt = 2; attempt <= 15; attempt++)
        {
            await h.Time.AdvanceToNextTimerAsync();
            await h.WaitDialCountAsync(b, attempt);
        }

        await Eventually.TrueAsync(() => h.Logs.Records.Count(r => r.EventId is 2007 or 2008) >= 15, "every failure logged");
        var failures = h.Logs.Records.Where(r => r.EventId is 2007 or 2008).ToList();
        failures[0].Level.Should().Be(LogLevel.Warning);
        failures[0].Message.Should().Contain("b@b.test").And.Contain("connection refused (fake)");
        failures[0].Exception.Should().BeNull("a ClusterException's message says it all");
        failures.Should().OnlyContain(r => (r.EventId == 2007) == (r.Level == LogLevel.Warning));
        var warnings = failures.Where(r => r.Level == LogLevel.Warning).Select(r => r.At).ToList();
        warnings.Zip(warnings.Skip(1), (x, y) => y - x).Should().OnlyContain(gap => gap >= TimeSpan.FromSeconds(30));
        warnings.Count.Should().BeGreaterThan(1, "a node that keeps failing is reported again");
        failures.Count(r => r.Level == LogLevel.Debug).Should().BeGreaterThan(0, "the failures in between go to Debug");
    }

    // Regression (docs/performance.md, "Things that looked wrong"): while 100 nodes formed a mesh, ~3,000 dials that
    // waited for a dial slot were cancelled because the peer had dialled first, and each was logged as a failed
    // dial (2007, with the cancellation's stack trace) and given a retry.
    [Fact]
    public async Task Dial_WaitingForASlot_NodeConnectsInbound_EndsQuietlyWithoutRetry()
    {
        await using var h = new RuntimeHarness(options: new TopologyRuntimeOptions { MaxConcurrentDials = 1 });
        NodeAddress b = Node("b"), c = Node("c");
        h.Connector.Hang(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1, "the dial to b holds the only slot");
        h.Strategy.Yield(b, c);
        await h.WaitDesiredAsync(b, c);

        h.Connector.MarkUp(c.Name);

        await WaitStoppedAsync(h, c);
        h.Logs.Records.Should().NotContain(r => r.EventId == 2007 || r.EventId == 2008 || r.EventId == 2013);
        h.Logs.Records.Single(r => r.EventId == 2014).Should().Match<LogRecord>(r => r.Message.Contains("it is connected") && r.Exception == null);
        h.Time.PendingTimerCount.Should().Be(0, "no retry is scheduled");
        h.Connector.Release(b.Name);
        await h.WaitConnectedAsync(b);
        h.Time.Advance(TimeSpan.FromMinutes(5));
        h.Connector.DialCount(c.Name).Should().Be(0);
        h.Logs.Records.Should().NotContain(r => r.EventId == 2009, "nothing failed, so nothing recovered");
    }

    [Fact]
    public async Task Dial_WaitingForASlot_NodeNoLongerWanted_EndsQuietlyWithoutRetry()
    {
        await using var h = new RuntimeHarness(options: new TopologyRuntimeOptions { MaxConcurrentDials = 1 });
        NodeAddress b = Node("b"), c = Node("c");
        h.Connector.Hang(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1, "the dial to b holds the only slot");
        h.Strategy.Yield(b, c);
        await h.WaitDesiredAsync(b, c);

        h.Strategy.Yield(b);

        await WaitStoppedAsync(h, c);
        h.Logs.Records.Should().NotContain(r => r.EventId == 2007 || r.EventId == 2008 || r.EventId == 2013);
        h.Logs.Records.Single(r => r.EventId == 2014).Message.Should().Contain("no topology wants it");
        h.Time.PendingTimerCount.Should().Be(0, "no retry is scheduled");
        h.Connector.Release(b.Name);
        await h.WaitConnectedAsync(b);
        h.Time.Advance(TimeSpan.FromMinutes(5));
        h.Connector.DialCount(c.Name).Should().Be(0);
    }

    [Fact]
    public async Task Dial_FailsAfterTheNodeConnectedInbound_IsNeitherRetriedNorWarned()
    {
        await using var h = new RuntimeHarness();
        NodeAddress b = Node("b"), x = Node("x");
        h.Connector.Hang(b.Name);
        h.Strategy.Yield(b, x);
        h.Runtime.Start();
        await h.WaitConnectedAsync(x);
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1, "the dial to b is in flight");

        // b dials this node while our own dial is still in the handshake, which then fails. Membership changes are
        // handled in order, so once x's NodeDown has been seen (x is redialled), b's NodeUp has been too.
        h.Connector.MarkUp(b.Name);
        h.Connector.MarkDown(x.Name);
        await h.WaitDialCountAsync(x, 2);
        h.Connector.ReleaseFailing(b.Name);

        await WaitStoppedAsync(h, b);
        h.Logs.Records.Should().NotContain(r => r.EventId == 2007 || r.EventId == 2008 || r.EventId == 2013);
        h.Logs.Records.Single(r => r.EventId == 2014).Exception.Should().BeOfType<ClusterConnectException>("a real error is kept, at Debug");
        h.Time.PendingTimerCount.Should().Be(0, "no retry is scheduled");
        h.Time.Advance(TimeSpan.FromMinutes(5));
        h.Connector.DialCount(b.Name).Should().Be(1);
    }

    [Fact]
    public async Task Dial_FailsAfterWaitingForASlot_WarnsOnceAndRetries()
    {
        await using var h = new RuntimeHarness(options: new TopologyRuntimeOptions { MaxConcurrentDials = 1 });
        NodeAddress b = Node("b"), c = Node("c");
        h.Connector.Hang(b.Name);
        h.Connector.Fail(c.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1, "the dial to b holds the only slot");
        h.Strategy.Yield(b, c);
        await h.WaitDesiredAsync(b, c);

        h.Connector.Release(b.Name);

        await h.WaitDialCountAsync(c, 1);
        await Eventually.TrueAsync(() => h.Time.PendingTimerCount == 1, "the retry of c is scheduled");
        var warning = h.Logs.Records.Single(r => r.EventId == 2007);
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Message.Should().Contain("c@c.test").And.Contain("(1 failures in a row)").And.Contain("connection refused (fake)");
        await h.Time.AdvanceToNextTimerAsync();
        await h.WaitDialCountAsync(c, 2);
        await Eventually.TrueAsync(() => h.Logs.Records.Any(r => r.EventId == 2008), "the second failure logged at Debug");
        h.Logs.Records.Count(r => r.EventId == 2007).Should().Be(1, "a streak warns once, then at most every 30 s");
        h.Logs.Records.Should().NotContain(r => r.EventId == 2013 || r.EventId == 2014);
    }

    [Fact]
    public async Task Dial_ConnectorThrowsACancellationOfItsOwn_IsAFailureAndRetried()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Connector.Fail(b.Name, new OperationCanceledException("the connector's own timeout (fake)"));
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitDialCountAsync(b, 1);
        await Eventually.TrueAsync(() => h.Time.PendingTimerCount == 1, "the retry is scheduled");

        var warning = h.Logs.Records.Single(r => r.EventId == 2007);
        warning.Exception.Should().BeOfType<OperationCanceledException>("only a ClusterException goes without its stack trace");
        await h.Time.AdvanceToNextTimerAsync();
        await h.WaitDialCountAsync(b, 2);
        h.Connector.Succeed(b.Name);
        await h.Time.AdvanceToNextTimerAsync();
        await h.WaitConnectedAsync(b);
        h.Logs.Records.Should().NotContain(r => r.EventId == 2013 || r.EventId == 2014);
    }

    [Fact]
    public async Task DisposeAsync_DialsWaitingForSlots_EndQuietly()
    {
        await using var h = new RuntimeHarness(options: new TopologyRuntimeOptions { MaxConcurrentDials = 1 });
        NodeAddress b = Node("b"), c = Node("c"), d = Node("d");
        h.Connector.Hang(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1, "the dial to b holds the only slot");
        h.Strategy.Yield(b, c, d);
        await h.WaitDesiredAsync(b, c, d);

        await h.Runtime.DisposeAsync().WithTimeout();

        h.Logs.Records.Should().NotContain(r => r.EventId == 2007 || r.EventId == 2008 || r.EventId == 2013);
        var stopped = h.Logs.Records.Where(r => r.EventId == 2014).ToList();
        stopped.Should().OnlyContain(r => r.Message.Contains("this node is stopping") && r.Exception == null);
        stopped.Should().Contain(r => r.Message.Contains("b@b.test"), "the hanging dial is cancelled quietly too");
        h.Connector.DialCount(c.Name).Should().Be(0);
        h.Connector.DialCount(d.Name).Should().Be(0);
    }

    [Fact]
    public async Task Membership_DesiredNodeGoesDown_IsRedialled()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b);

        h.Connector.MarkDown(b.Name);

        await h.WaitDialCountAsync(b, 2);
        await h.WaitConnectedAsync(b);
    }

    [Fact]
    public async Task Membership_UnwantedNodeGoesDown_IsNotDialled()
    {
        await using var h = new RuntimeHarness();
        NodeAddress b = Node("b"), x = Node("x");
        h.Connector.MarkUp(x.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b);

        h.Connector.MarkDown(x.Name);
        h.Connector.MarkDown(b.Name);

        await h.WaitDialCountAsync(b, 2);
        h.Connector.DialCount(x.Name).Should().Be(0);
    }

    [Fact]
    public async Task Membership_NodeConnectsInboundWhileRetrying_StopsRetrying()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Connector.Fail(b.Name);
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitDialCountAsync(b, 1);
        await Eventually.TrueAsync(() => h.Time.PendingTimerCount == 1, "the retry is scheduled");

        h.Connector.MarkUp(b.Name);

        await Eventually.TrueAsync(() => h.Time.PendingTimerCount == 0, "the retry is cancelled");
        h.Time.Advance(TimeSpan.FromMinutes(5));
        h.Connector.DialCount(b.Name).Should().Be(1);
    }

    [Fact]
    public async Task Strategy_Throws_IsRestartedWithBackoffAndKeepsItsLastSet()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Strategy.Yield(b);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b);

        h.Strategy.Throw(new InvalidOperationException("lookup failed"));

        await Eventually.TrueAsync(() => h.Logs.Records.Any(r => r.EventId == 2004), "the failure logged");
        var warning = h.Logs.Records.Single(r => r.EventId == 2004);
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Message.Should().Contain("t1");
        warning.Exception.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("lookup failed");
        h.Strategy.Starts.Should().Be(1, "the restart waits for its backoff");
        h.Runtime.DesiredNodes.Should().BeEquivalentTo([b], "a failed strategy keeps its last set");
        h.Connector.Disconnects.Should().BeEmpty();

        var delay = await h.Time.AdvanceToNextTimerAsync();

        await Eventually.TrueAsync(() => h.Strategy.Starts == 2, "the strategy restarted");
        delay.Should().BePositive().And.BeLessThanOrEqualTo(FirstRestartAtMost);
        h.Runtime.DesiredNodes.Should().BeEquivalentTo([b]);
        h.Connector.IsConnected(b.Name).Should().BeTrue();
    }

    [Fact]
    public async Task Strategy_KeepsThrowingWithoutYielding_RestartDelaysGrow()
    {
        await using var h = new RuntimeHarness(topologies: 2);
        var b = Node("b");
        for (var i = 0; i < 6; i++)
        {
            h.Strategies[0].Throw(new InvalidOperationException("no registry"));
        }

        h.Strategies[1].Yield(b);
        h.Runtime.Start();
        await h.WaitConnectedAsync(b);
        await Eventually.TrueAsync(() => h.Strategies[0].Starts == 1, "the failing strategy ran once");
        var start = h.Time.GetUtcNow();

        for (var run = 2; run <= 7; run++)
        {
            await h.Time.AdvanceToNextTimerAsync();
            await Eventually.TrueAsync(() => h.Strategies[0].Starts == run, $"the strategy restarted {run - 1} times");
        }

        // Six failures: at least f(4) / 1.4 + 30 s or f(5) / 1.4 (whichever is smaller) with base 1 s, cap 30 s.
        (h.Time.GetUtcNow() - start).Should().BeGreaterThanOrEqualTo(TimeSpan.FromSeconds(22));
        h.Connector.IsConnected(b.Name).Should().BeTrue("the other topology is unaffected");
    }

    [Fact]
    public async Task Strategy_EnumerationEnds_IsRestarted()
    {
        await using var h = new RuntimeHarness();
        var b = Node("b");
        h.Strategy.Yield(b);
        h.Strategy.EndEnumeration();
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Logs.Records.Any(r => r.EventId == 2004), "the end logged");

        await h.Time.AdvanceToNextTimerAsync();

        await Eventually.TrueAsync(() => h.Strategy.Starts == 2, "the strategy restarted");
        h.Runtime.DesiredNodes.Should().BeEquivalentTo([b]);
    }

    [Fact]
    public async Task Dial_OneNodeHangs_OthersStillConnect()
    {
        await using var h = new RuntimeHarness();
        NodeAddress b = Node("b"), c = Node("c"), d = Node("d");
        h.Connector.Hang(b.Name);
        h.Strategy.Yield(b, c, d);

        h.Runtime.Start();

        await h.WaitConnectedAsync(c, d);
        h.Connector.InFlight.Should().Be(1);
        h.Connector.IsConnected(b.Name).Should().BeFalse();
    }

    [Fact]
    public async Task Dial_ManyNodes_AtMostMaxConcurrentDialsInFlight()
    {
        await using var h = new RuntimeHarness(options: new TopologyRuntimeOptions { MaxConcurrentDials = 2 });
        var nodes = new[] { "b", "c", "d", "e", "f" }.Select(n => Node(n)).ToArray();
        foreach (var node in nodes)
        {
            h.Connector.Hang(node.Name);
        }

        h.Strategy.Yield(nodes);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 2, "two dials in flight");

        var first = h.Connector.Dials[0].Address;
        h.Connector.Release(first.Name);
        await Eventually.TrueAsync(() => h.Connector.Dials.Count == 3 && h.Connector.InFlight == 2, "a third dial took the free slot");

        foreach (var node in nodes)
        {
            h.Connector.Release(node.Name);
        }

        await h.WaitConnectedAsync(nodes);
        h.Connector.MaxInFlight.Should().Be(2);
        h.Connector.Dials.Should().HaveCount(5);
    }

    [Fact]
    public async Task DisposeAsync_StopsStrategiesAndDials_AndIsIdempotent()
    {
        await using var h = new RuntimeHarness(topologies: 2);
        NodeAddress b = Node("b"), c = Node("c");
        h.Connector.Hang(b.Name);
        h.Connector.Fail(c.Name);
        h.Strategies[0].Yield(b);
        h.Strategies[1].Yield(c);
        h.Runtime.Start();
        await Eventually.TrueAsync(() => h.Connector.InFlight == 1 && h.Connector.DialCount(c.Name) == 1, "b hanging and c failing");
        await Eventually.TrueAsync(() => h.Connector.WatcherCount == 1, "the membership watch running");

        await h.Runtime.DisposeAsync().WithTimeout();

        h.Strategies.Should().OnlyContain(s => s.Running == 0 && s.Cancellations == 1);
        h.Connector.InFlight.Should().Be(0, "a hanging dial is cancelled");
        h.Connector.WatcherCount.Should().Be(0);
        h.Time.PendingTimerCount.Should().Be(0);
        h.Time.Advance(TimeSpan.FromMinutes(10));
        h.Connector.DialCount(c.Name).Should().Be(1);
        h.Connector.Disconnects.Should().BeEmpty("stopping leaves the connections to the mesh");

        await h.Runtime.DisposeAsync().WithTimeout();
        var start = h.Runtime.Start;
        start.Should().Throw<ObjectDisposedException>();
    }

    [Fact]
    public async Task DisposeAsync_BeforeStart_Completes()
    {
        await using var h = new RuntimeHarness();

        await h.Runtime.DisposeAsync().WithTimeout();

        h.Strategy.Starts.Should().Be(0);
    }

    private static Task WaitStoppedAsync(RuntimeHarness h, NodeAddress node) =>
        Eventually.TrueAsync(
            () => h.Logs.Records.Any(r => r.EventId == 2014 && r.Message.Contains(node.Name.ToString(), StringComparison.Ordinal)),
            $"the dialler of {node.Name} stopped",
            () => string.Join("; ", h.Logs.Records.Where(r => r.EventId >= 2006).Select(r => $"{r.EventId} {r.Message}")));
}
