using System.Net;
using LibCluster.Nodes;
using LibCluster.Strategies.Dns;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Strategies.Dns;

public sealed class DnsStrategyTests
{
    private static DnsStrategy Strategy(FakeDnsResolver resolver, string? basename = "app", string? nameServer = null, TimeSpan? interval = null) =>
        new(
            new DnsStrategyOptions
            {
                Query = "nodes.cluster.example",
                NodeBasename = basename,
                NameServer = nameServer,
                PollingInterval = interval ?? TimeSpan.FromSeconds(5),
            },
            resolver);

    private static NodeAddress Node(string name, int port = 9001) => new(NodeName.Parse(name), port);

    [Fact]
    public async Task PollAsync_AAndAaaaRecords_WantsBasenameAtEachAddressOnTheClusterPort()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2", "10.0.0.3", "fd00::1");
        await using var driver = new PollDriver(Strategy(resolver), resolver, defaultPort: 9100);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@10.0.0.2", 9100), Node("app@10.0.0.3", 9100), Node("app@fd00::1", 9100)]);
        set!.Single(n => n.Name.Value == "app@fd00::1").Host.Should().Be("fd00::1");
    }

    [Theory]
    [InlineData("app@10.0.0.1", "10.0.0.1")]
    [InlineData("app@fd00::1", "fd00::1")]
    [InlineData("app@fd00:0:0:0::1", "fd00::1")]
    public async Task PollAsync_ThisNodeInTheAnswer_IsLeftOut(string self, string selfAddress)
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2", selfAddress);
        await using var driver = new PollDriver(Strategy(resolver), resolver, self: NodeName.Parse(self));

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@10.0.0.2")]);
    }

    [Fact]
    public async Task PollAsync_SameAddressAnotherBasename_IsNotThisNode()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.1");
        await using var driver = new PollDriver(Strategy(resolver, basename: "worker"), resolver, self: NodeName.Parse("app@10.0.0.1"));

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("worker@10.0.0.1")]);
    }

    [Fact]
    public async Task PollAsync_NoNodeBasename_UsesThisNodesBasename()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.1", "10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver, basename: null), resolver, self: NodeName.Parse("web@10.0.0.1"));

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("web@10.0.0.2")]);
    }

    [Fact]
    public async Task PollAsync_NameServerAndInterval_GoIntoTheQuery()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        var strategy = new DnsStrategy(
            new DnsStrategyOptions { Query = " nodes.cluster.example. ", NodeBasename = "app", NameServer = "[fd00::10]:5353", PollingInterval = TimeSpan.FromSeconds(1) },
            resolver);
        await using var driver = new PollDriver(strategy, resolver);

        await driver.PollAsync();

        resolver.Queries.Should().Equal(new DnsQuery("nodes.cluster.example", new IPEndPoint(IPAddress.Parse("fd00::10"), 5353), TimeSpan.FromSeconds(1)));
    }

    [Theory]
    [InlineData(null, 53)]
    [InlineData("10.96.0.10", 53)]
    [InlineData("10.96.0.10:5353", 5353)]
    public async Task PollAsync_NameServerWithoutPort_UsesPort53(string? nameServer, int port)
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver, nameServer: nameServer), resolver);

        await driver.PollAsync();

        var query = resolver.Queries.Single();
        if (nameServer is null)
        {
            query.NameServer.Should().BeNull("no NameServer means the system's name servers");
        }
        else
        {
            query.NameServer.Should().Be(new IPEndPoint(IPAddress.Parse("10.96.0.10"), port));
        }
    }

    [Theory]
    [InlineData(100, 250)]
    [InlineData(1_000, 1_000)]
    [InlineData(5_000, 2_000)]
    public async Task PollAsync_QueryTimeout_FollowsTheIntervalWithinBounds(int intervalMs, int timeoutMs)
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver, interval: TimeSpan.FromMilliseconds(intervalMs)), resolver);

        await driver.PollAsync();

        resolver.Queries.Single().Timeout.Should().Be(TimeSpan.FromMilliseconds(timeoutMs));
    }

    [Fact]
    public async Task WatchAsync_AfterAPoll_PollsAgainAfterThePollingInterval()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver, interval: TimeSpan.FromSeconds(7)), resolver);
        await driver.PollAsync();

        var unchanged = await driver.PollAsync();

        unchanged.Should().BeNull("the same answer yields nothing new");
        driver.NextPollIn.Should().Be(TimeSpan.FromSeconds(7));
        resolver.Calls.Should().Be(2);
    }

    [Fact]
    public async Task WatchAsync_RecordsAddedAndRemoved_YieldsEachNewSet()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver), resolver);
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.2")]);

        resolver.Addresses("10.0.0.2", "10.0.0.3");
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.2"), Node("app@10.0.0.3")]);

        resolver.Addresses("10.0.0.3");
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.3")]);

        resolver.Addresses();
        (await driver.PollAsync()).Should().BeEmpty("a name that exists without records (NODATA) really says there are no nodes");
        driver.Errors.Should().Be(0);
    }

    [Fact]
    public async Task WatchAsync_FailedLookups_KeepTheLastSetCountAndWarnOnce()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2", "10.0.0.3");
        await using var driver = new PollDriver(Strategy(resolver), resolver);
        await driver.PollAsync();

        resolver.Fail("DNS lookup of A nodes.cluster.example failed: SERVFAIL (server failure).");
        (await driver.PollAsync()).Should().BeNull("a failed lookup must not change the set");
        (await driver.PollAsync()).Should().BeNull();
        (await driver.PollAsync()).Should().BeNull();

        driver.Errors.Should().Be(3);
        driver.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Should().ContainSingle()
            .Which.Message.Should().Contain(driver.Context.TopologyName).And.Contain("SERVFAIL");
        driver.Yielded.Should().ContainSingle();

        resolver.Addresses("10.0.0.2");
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.2")]);
        driver.Logs.Entries.Should().Contain(e => e.EventId == 2053, "recovery is logged");
    }

    [Fact]
    public async Task WatchAsync_NameNotFoundOnTheFirstPoll_YieldsAnEmptySetAndLogsItOnce()
    {
        var resolver = new FakeDnsResolver().NameNotFound();
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        (await driver.PollAsync()).Should().BeEmpty("the name does not exist yet: there is nothing to join");
        (await driver.PollAsync()).Should().BeNull();

        driver.Errors.Should().Be(0);
        driver.Logs.Entries.Should().ContainSingle(e => e.EventId == 2201 && e.Level == LogLevel.Information)
            .Which.Message.Should().Contain("nodes.cluster.example");

        resolver.Addresses("10.0.0.2");
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.2")]);
    }

    [Fact]
    public async Task WatchAsync_NameNotFoundAfterItResolved_IsAFailureAndKeepsTheLastSet()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2", "10.0.0.3");
        await using var driver = new PollDriver(Strategy(resolver), resolver);
        await driver.PollAsync();

        resolver.NameNotFound();
        (await driver.PollAsync()).Should().BeNull("a name that vanishes is a DNS hiccup, not a cluster of none");
        (await driver.PollAsync()).Should().BeNull();

        driver.Errors.Should().Be(2);
        driver.Logs.Entries.Should().ContainSingle(e => e.EventId == 2051)
            .Which.Message.Should().Contain("NXDOMAIN").And.Contain("nodes.cluster.example");
        driver.Yielded.Should().ContainSingle();

        resolver.Addresses("10.0.0.3");
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.3")]);
    }

    [Fact]
    public async Task WatchAsync_NameNotFoundAfterAnEmptyAnswer_IsAFailure()
    {
        var resolver = new FakeDnsResolver().Addresses();
        await using var driver = new PollDriver(Strategy(resolver), resolver);
        (await driver.PollAsync()).Should().BeEmpty();

        resolver.NameNotFound();

        (await driver.PollAsync()).Should().BeNull();
        driver.Errors.Should().Be(1, "the name existed before, even without records");
    }

    [Fact]
    public async Task WatchAsync_FailureOnTheFirstPoll_YieldsNothingUntilAnAnswer()
    {
        var resolver = new FakeDnsResolver().Fail();
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        (await driver.PollAsync()).Should().BeNull();
        driver.Errors.Should().Be(1);

        resolver.Addresses("10.0.0.2");
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@10.0.0.2")]);
    }

    [Fact]
    public async Task WatchAsync_ThisNodeNamedByHostName_WarnsOnceThatOthersCannotReachItByThatName()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver), resolver, self: NodeName.Parse("app@pod-0.myapp"));

        await driver.PollAsync();
        await driver.PollAsync();

        driver.Logs.Entries.Should().ContainSingle(e => e.EventId == 2204 && e.Level == LogLevel.Warning)
            .Which.Message.Should().Contain("app@pod-0.myapp").And.Contain("LibCluster:Node:Name");
    }

    [Fact]
    public async Task WatchAsync_ThisNodeNamedByAddress_DoesNotWarnAboutItsName()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2");
        await using var driver = new PollDriver(Strategy(resolver), resolver, self: NodeName.Parse("app@10.0.0.1"));

        await driver.PollAsync();

        driver.Logs.Entries.Should().NotContain(e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsWithTheProblems()
    {
        var create = () => new DnsStrategy(new DnsStrategyOptions { NameServer = "dns.example" }, new FakeDnsResolver());

        create.Should().Throw<ArgumentException>().Which.Message.Should().Contain("Query is required").And.Contain("NameServer 'dns.example'");
    }
}
