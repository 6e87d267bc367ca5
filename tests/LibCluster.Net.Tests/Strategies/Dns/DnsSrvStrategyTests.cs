using LibCluster.Nodes;
using LibCluster.Strategies.Dns;
using Microsoft.Extensions.Logging;
using static LibCluster.Tests.Strategies.Dns.FakeDnsResolver;

namespace LibCluster.Tests.Strategies.Dns;

public sealed class DnsSrvStrategyTests
{
    private static DnsSrvStrategy Strategy(FakeDnsResolver resolver, string? basename = "app") =>
        new(new DnsSrvStrategyOptions { Query = "_dist._tcp.cluster.example", NodeBasename = basename }, resolver);

    private static NodeAddress Node(string name, string host, int port) => new(NodeName.Parse(name), host, port);

    [Fact]
    public async Task PollAsync_SrvRecords_WantBasenameAtEachTargetOnTheRecordsPort()
    {
        var resolver = new FakeDnsResolver().Services(
            Srv("n1.cluster.example", 7001),
            Srv("n2.cluster.example", 7002),
            Srv("n3.cluster.example", 9001));
        await using var driver = new PollDriver(Strategy(resolver), resolver, defaultPort: 4369);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo(
        [
            Node("app@n1.cluster.example", "n1.cluster.example", 7001),
            Node("app@n2.cluster.example", "n2.cluster.example", 7002),
            Node("app@n3.cluster.example", "n3.cluster.example", 9001),
        ]);
    }

    [Fact]
    public async Task PollAsync_TargetAddressInTheAdditionalSection_IsDialledThere()
    {
        var resolver = new FakeDnsResolver().Services(
            Srv("n1.cluster.example", 7001, "10.0.0.2"),
            Srv("n2.cluster.example", 7002, "fd00::3", "10.0.0.9", "10.0.0.3"),
            Srv("n3.cluster.example", 7003, "fd00::5", "fd00::4"));
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo(
        [
            Node("app@n1.cluster.example", "10.0.0.2", 7001),
            Node("app@n2.cluster.example", "10.0.0.3", 7002),
            Node("app@n3.cluster.example", "fd00::4", 7003),
        ], "the name stays the target; the lowest IPv4 address, else the lowest IPv6 one, is dialled");
    }

    [Fact]
    public async Task PollAsync_NoAdditionalAddressButANameServer_AsksItForTheTargetsAddress()
    {
        // The mesh would resolve the target with the system resolver, which may not know what only this server knows.
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7001), Srv("n2.cluster.example", 7002, "10.0.0.2")).Addresses("fd00::9", "10.0.0.7");
        var strategy = new DnsSrvStrategy(new DnsSrvStrategyOptions { Query = "_dist._tcp.cluster.example", NodeBasename = "app", NameServer = "127.0.0.53:5353" }, resolver);
        await using var driver = new PollDriver(strategy, resolver);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo(
        [
            Node("app@n1.cluster.example", "10.0.0.7", 7001),
            Node("app@n2.cluster.example", "10.0.0.2", 7002),
        ]);
        resolver.Queries.Select(q => q.Name).Should().Equal(["_dist._tcp.cluster.example", "n1.cluster.example"], "only the target without an address is looked up");
        resolver.Queries.Should().AllSatisfy(q => q.NameServer!.ToString().Should().Be("127.0.0.53:5353"));
    }

    [Fact]
    public async Task PollAsync_NoAdditionalAddressAndTheNameServerFailsForIt_DialsTheName()
    {
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7001)).NameNotFound();
        resolver.Services(Srv("n1.cluster.example", 7001));
        var strategy = new DnsSrvStrategy(new DnsSrvStrategyOptions { Query = "_dist._tcp.cluster.example", NodeBasename = "app", NameServer = "127.0.0.53:5353" }, resolver);
        await using var driver = new PollDriver(strategy, resolver);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@n1.cluster.example", "n1.cluster.example", 7001)]);
    }

    [Fact]
    public async Task PollAsync_NoAdditionalAddressAndNoNameServer_DialsTheNameWithoutAnotherLookup()
    {
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7001));
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@n1.cluster.example", "n1.cluster.example", 7001)]);
        resolver.Calls.Should().Be(1, "the system resolver is the mesh's to ask, when it dials");
    }

    [Theory]
    [InlineData("app@n1.cluster.example")]
    [InlineData("app@N1.Cluster.Example")]
    [InlineData("app@n1.cluster.example.")]
    public async Task PollAsync_ThisNodesTarget_IsLeftOut(string self)
    {
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7001), Srv("n2.cluster.example", 7002));
        await using var driver = new PollDriver(Strategy(resolver), resolver, self: NodeName.Parse(self));

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@n2.cluster.example", "n2.cluster.example", 7002)]);
    }

    [Fact]
    public async Task PollAsync_NoNodeBasename_UsesThisNodesBasename()
    {
        var resolver = new FakeDnsResolver().Services(Srv("n2.cluster.example", 7002));
        await using var driver = new PollDriver(Strategy(resolver, basename: null), resolver, self: NodeName.Parse("web@n1.cluster.example"));

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("web@n2.cluster.example", "n2.cluster.example", 7002)]);
    }

    [Fact]
    public async Task PollAsync_RootTarget_IsSkippedQuietly()
    {
        var resolver = new FakeDnsResolver().Services(Srv(string.Empty, 0), Srv("n2.cluster.example", 7002));
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@n2.cluster.example", "n2.cluster.example", 7002)]);
        driver.Logs.Entries.Should().NotContain(e => e.Level >= LogLevel.Warning);
    }

    [Fact]
    public async Task PollAsync_UnusableRecords_AreSkippedAndEachIsWarnedAboutOnce()
    {
        var resolver = new FakeDnsResolver().Services(
            Srv("n1.cluster.example", 0),
            Srv(new string('a', 300) + ".example", 7001),
            Srv("n2.cluster.example", 7002));
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@n2.cluster.example", "n2.cluster.example", 7002)]);
        await driver.PollAsync();
        await driver.PollAsync();

        var warnings = driver.Logs.Entries.Where(e => e.EventId == 2203).ToList();
        warnings.Should().HaveCount(2);
        warnings[0].Message.Should().Contain("n1.cluster.example:0").And.Contain("port 0");
        warnings[1].Message.Should().Contain("longer than");
        driver.Errors.Should().Be(0, "bad records are not a failed lookup");
    }

    [Fact]
    public async Task PollAsync_OneTargetWithTwoPorts_DialsTheLowerPortAndWarns()
    {
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7005), Srv("n1.cluster.example", 7001));
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([Node("app@n1.cluster.example", "n1.cluster.example", 7001)]);
        driver.Logs.Entries.Should().ContainSingle(e => e.EventId == 2203).Which.Message.Should().Contain("7005").And.Contain("7001");
    }

    [Fact]
    public async Task WatchAsync_RecordsChange_YieldsEachNewSet()
    {
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7001));
        await using var driver = new PollDriver(Strategy(resolver), resolver);
        await driver.PollAsync();

        resolver.Services(Srv("n1.cluster.example", 7001), Srv("n2.cluster.example", 7002));
        (await driver.PollAsync()).Should().HaveCount(2);

        resolver.Services(Srv("n2.cluster.example", 7002));
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@n2.cluster.example", "n2.cluster.example", 7002)]);

        resolver.Services(Srv("n2.cluster.example", 7003));
        (await driver.PollAsync()).Should().BeEquivalentTo([Node("app@n2.cluster.example", "n2.cluster.example", 7003)], "a new port is a new address");
    }

    [Fact]
    public async Task WatchAsync_FailedLookups_KeepTheLastSet()
    {
        var resolver = new FakeDnsResolver().Services(Srv("n1.cluster.example", 7001), Srv("n2.cluster.example", 7002));
        await using var driver = new PollDriver(Strategy(resolver), resolver);
        await driver.PollAsync();

        resolver.Fail();
        (await driver.PollAsync()).Should().BeNull();
        resolver.NameNotFound();
        (await driver.PollAsync()).Should().BeNull();

        driver.Errors.Should().Be(2);
        driver.Yielded.Should().ContainSingle();
    }

    [Fact]
    public async Task WatchAsync_NameNotFoundOnTheFirstPoll_YieldsAnEmptySet()
    {
        var resolver = new FakeDnsResolver().NameNotFound();
        await using var driver = new PollDriver(Strategy(resolver), resolver);

        (await driver.PollAsync()).Should().BeEmpty();

        driver.Errors.Should().Be(0);
        driver.Logs.Entries.Should().ContainSingle(e => e.EventId == 2201).Which.Message.Should().Contain("_dist._tcp.cluster.example");
    }
}
