using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Eureka.Tests;

/// <summary>The strategy alone (no mesh) against the stand-in registry on loopback.</summary>
public sealed class EurekaStrategyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static Dictionary<string, string> NodeMetadata(string node, int port) => new()
    {
        ["libcluster.node"] = node,
        ["libcluster.port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static NodeAddress Address(string node, int port) => new(NodeName.Parse(node), port);

    [Fact]
    public async Task WatchAsync_Started_RegistersWithMetadataAndYieldsTheOthers()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("my-app", "peer-1", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        await using var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server), self: "me@127.0.0.1", port: 7000);

        var set = await harness.NextAsync(Timeout);

        set.Should().BeEquivalentTo([Address("p1@127.0.0.1", 7001)]);
        var me = server.Instances("MY-APP").Single(i => i.InstanceId == "me@127.0.0.1:7000");
        me.Metadata("libcluster.node").Should().Be("me@127.0.0.1");
        me.Metadata("libcluster.port").Should().Be("7000");
        me.Field("vipAddress").Should().Be("my-app");
        me.Body["dataCenterInfo"]!["name"]!.GetValue<string>().Should().Be("MyOwn");
    }

    [Fact]
    public async Task WatchAsync_MixedInstances_WantsOnlyUpNodesWithOurMetadataExceptItself()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("my-app", "up", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        server.Seed("my-app", "no-port", metadata: new Dictionary<string, string> { ["libcluster.node"] = "p2@127.0.0.1" });
        server.Seed("my-app", "down", status: "DOWN", metadata: NodeMetadata("p3@127.0.0.1", 7003));
        server.Seed("my-app", "starting", status: "STARTING", metadata: NodeMetadata("p4@127.0.0.1", 7004));
        server.Seed("my-app", "out", status: "OUT_OF_SERVICE", metadata: NodeMetadata("p5@127.0.0.1", 7005));
        server.Seed("my-app", "spring-app");
        server.Seed("my-app", "bad-name", metadata: NodeMetadata("no at sign", 7006));
        server.Seed("my-app", "bad-port", metadata: NodeMetadata("p7@127.0.0.1", 0));
        server.Seed("my-app", "old-me", metadata: NodeMetadata("me@127.0.0.1", 6999));
        server.Seed("other-app", "other", metadata: NodeMetadata("p8@127.0.0.1", 7008));
        await using var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server), self: "me@127.0.0.1", port: 7000);

        var set = await harness.NextAsync(Timeout);

        set.Should().BeEquivalentTo([Address("p1@127.0.0.1", 7001), Address("p2@127.0.0.1", 7000)], "a node without a port is dialled at the default port");
        harness.Logs.WithEventId(5012).Select(e => e.Value("InstanceId")).Should().Contain(["bad-name", "bad-port"]);
    }

    [Theory]
    [InlineData(ReadFault.HtmlPage)]
    [InlineData(ReadFault.MalformedJson)]
    [InlineData(ReadFault.NotEurekaJson)]
    [InlineData(ReadFault.SurpriseStatus)]
    [InlineData(ReadFault.InternalServerError)]
    public async Task WatchAsync_UnusableAnswers_LogOnceAndKeepTheLastSet(ReadFault fault)
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("my-app", "peer-1", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        server.Seed("my-app", "peer-2", metadata: NodeMetadata("p2@127.0.0.1", 7002));
        await using var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server));
        (await harness.NextAsync(Timeout)).Should().HaveCount(2);
        var next = harness.MoveNextAsync();

        server.ReadFault = fault;
        await Eventually.TrueAsync(() => server.Count("fetch_fault") >= 4, Timeout, "several polls got the spoilt answer");
        await Eventually.TrueAsync(() => harness.Logs.WithEventId(2052).Count >= 2, Timeout, "the polling base counted the failed polls");

        next.IsCompleted.Should().BeFalse("a failed poll yields nothing: the last set stays in force");
        harness.Logs.WithEventId(2051).Should().ContainSingle("the base warns once per outage, not per poll");
        if (fault == ReadFault.InternalServerError)
        {
            harness.Logs.WithEventId(5010).Should().BeEmpty("a 5xx is an outage, not a nonsensical answer");
        }
        else
        {
            var error = harness.Logs.WithEventId(5010).Should().ContainSingle("a nonsensical answer is an error once per streak").Subject;
            error.Level.Should().Be(LogLevel.Error);
            error.Value("Problem").Should().Contain("GET ").And.Contain("/eureka/apps/MY-APP");
        }

        server.Remove("my-app", "peer-2");
        server.ReadFault = ReadFault.None;
        (await next.WaitAsync(Timeout)).Should().BeTrue();

        harness.Current.Should().BeEquivalentTo([Address("p1@127.0.0.1", 7001)]);
        harness.Logs.WithEventId(2053).Should().ContainSingle("recovery is logged");
    }

    [Fact]
    public async Task WatchAsync_RenewAnswers404_RegistersAgainAndHoldsRemovalsForALease()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("my-app", "peer-1", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        server.Seed("my-app", "peer-2", metadata: NodeMetadata("p2@127.0.0.1", 7002));
        var options = StrategyHarness.FastOptions(server);
        options.LeaseDuration = TimeSpan.FromSeconds(4);
        await using var harness = StrategyHarness.Start(options);
        (await harness.NextAsync(Timeout)).Should().HaveCount(2);
        var next = harness.MoveNextAsync();

        server.RestartEmpty();
        server.Seed("my-app", "peer-1", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        await Eventually.TrueAsync(() => server.Instances("MY-APP").Any(i => i.InstanceId == "me@127.0.0.1:9001"), Timeout, "the node registered again after its renewal got 404");

        server.Count("renew_404").Should().BeGreaterThanOrEqualTo(1);
        harness.Logs.WithEventId(5006).Should().NotBeEmpty();
        await Eventually.TrueAsync(() => harness.Logs.WithEventId(5014).Count > 0, Timeout, "the missing peer is held back");
        next.IsCompleted.Should().BeFalse("during the hold the set still has peer-2, so nothing changed");

        (await next.WaitAsync(Timeout)).Should().BeTrue();
        harness.Current.Should().BeEquivalentTo([Address("p1@127.0.0.1", 7001)], "after a lease the registry's view is trusted again");
    }

    [Fact]
    public async Task WatchAsync_Cancelled_DeletesTheRegistration()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server));
        await harness.NextAsync(Timeout);
        server.Instances("MY-APP").Should().ContainSingle();
        _ = harness.MoveNextAsync();

        await harness.StopAsync();

        server.Count("delete").Should().Be(1);
        server.Instances("MY-APP").Should().BeEmpty();
        harness.Logs.WithEventId(5007).Should().ContainSingle();
    }

    [Fact]
    public async Task WatchAsync_ConsumerStopsEarly_DeletesTheRegistration()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server));
        await harness.NextAsync(Timeout);

        await harness.AbandonAsync();

        server.Count("delete").Should().Be(1);
        server.Instances("MY-APP").Should().BeEmpty();
    }

    [Fact]
    public async Task WatchAsync_TransientServerErrors_AreRetriedWithinTheRequest()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Seed("my-app", "peer-1", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        server.FailNext(2);
        await using var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server));

        (await harness.NextAsync(Timeout)).Should().HaveCount(1);

        server.Count("outage").Should().Be(2);
        server.Count("register").Should().Be(1, "the registration's body was sent again after the 503s");
        harness.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Should().BeEmpty("the retries absorbed the failures");
    }

    [Fact]
    public async Task WatchAsync_RegistryUnreachableAtStart_KeepsTryingAndRegistersWhenItComesBack()
    {
        await using var server = await FakeEurekaServer.StartAsync();
        server.Outage = Outage.ConnectionReset;
        await using var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server));
        var first = harness.MoveNextAsync();
        await Eventually.TrueAsync(() => harness.Logs.WithEventId(5003).Count > 0 && harness.Logs.WithEventId(2052).Count > 0, Timeout, "registration and polling both failed a few times");

        first.IsCompleted.Should().BeFalse("nothing is known yet, so nothing is yielded");
        server.Outage = Outage.None;
        (await first.WaitAsync(Timeout)).Should().BeTrue();

        harness.Current.Should().BeEmpty("the registry really lists no other node");
        await Eventually.TrueAsync(() => server.Instances("MY-APP").Count == 1, Timeout, "the node registered once the registry came back");
        harness.Logs.WithEventId(5003).Should().ContainSingle("a warning per outage, not per attempt");
        harness.Logs.WithEventId(5003)[0].Value("Reason").Should().Be("unreachable");
    }

    [Fact]
    public async Task WatchAsync_TokenExpiresBeforeItsAdvertisedLifetime_GetsANewOneOn401()
    {
        await using var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions
        {
            RequireOAuth = true,
            TokenLifetime = TimeSpan.FromMilliseconds(700),
            AdvertisedTokenLifetime = TimeSpan.FromHours(1),
        });
        var options = StrategyHarness.FastOptions(server);
        options.ClientId = server.Options.ClientId;
        options.ClientSecret = server.Options.ClientSecret;
        options.AccessTokenUri = server.TokenUri.ToString();
        server.Seed("my-app", "peer-1", metadata: NodeMetadata("p1@127.0.0.1", 7001));
        await using var harness = StrategyHarness.Start(options);
        (await harness.NextAsync(Timeout)).Should().HaveCount(1);
        var next = harness.MoveNextAsync();

        await Eventually.TrueAsync(() => server.Count("unauthorized") >= 3 && server.Count("token") >= 4, Timeout, "tokens expired on the server and were replaced");
        var renewals = server.Count("renew");
        await Eventually.TrueAsync(() => server.Count("renew") >= renewals + 3, Timeout, "renewals go on with the new tokens");

        next.IsCompleted.Should().BeFalse();
        harness.Logs.Entries.Where(e => e.Level >= LogLevel.Warning).Should().BeEmpty("a 401 answered by a new token is no failure");
        LogsMustNotContain(harness.Logs, [server.Options.ClientSecret, .. server.IssuedTokens]);
    }

    [Fact]
    public async Task WatchAsync_WrongClientSecret_WarnsWithoutLoggingTheSecret()
    {
        await using var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { RequireOAuth = true });
        var options = StrategyHarness.FastOptions(server);
        options.ClientId = server.Options.ClientId;
        options.ClientSecret = "wrong-secret-0123456789-abcdefghij";
        options.AccessTokenUri = server.TokenUri.ToString();
        await using var harness = StrategyHarness.Start(options);
        var first = harness.MoveNextAsync();

        await Eventually.TrueAsync(() => harness.Logs.WithEventId(5011).Count > 0 && harness.Logs.WithEventId(5003).Count > 0, Timeout, "the refusal was logged");

        first.IsCompleted.Should().BeFalse();
        server.Count("token_refused").Should().BeGreaterThan(0);
        harness.Logs.WithEventId(5003)[0].Value("Reason").Should().Be("unauthorized");
        harness.Logs.WithEventId(5011)[0].Level.Should().Be(LogLevel.Warning);
        LogsMustNotContain(harness.Logs, ["wrong-secret-0123456789-abcdefghij", server.Options.ClientSecret]);
    }

    [Fact]
    public async Task WatchAsync_RegistryWantsCredentialsButHasNone_SaysWhatToConfigure()
    {
        await using var server = await FakeEurekaServer.StartAsync(new FakeEurekaServerOptions { RequireOAuth = true });
        await using var harness = StrategyHarness.Start(StrategyHarness.FastOptions(server));
        _ = harness.MoveNextAsync();

        await Eventually.TrueAsync(() => harness.Logs.WithEventId(5011).Count > 0, Timeout, "the 401 was logged");

        harness.Logs.WithEventId(5011)[0].Value("Problem").Should().Contain("ClientId");
    }

    private static void LogsMustNotContain(LogCollector logs, IEnumerable<string> secrets)
    {
        var all = logs.AllText().ToList();
        foreach (var secret in secrets)
        {
            all.Should().NotContain(text => text.Contains(secret, StringComparison.Ordinal), "secrets and tokens are never logged");
        }
    }
}
