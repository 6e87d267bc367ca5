using LibCluster.Hosting;
using LibCluster.Strategies.Gossip;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LibCluster.Tests.Strategies.Gossip;

public sealed class GossipStrategyOptionsTests
{
    private const string Path = "LibCluster:Topologies:lan:Config";
    private const string Cookie = "unit-test-cookie-0123456789abcdefghijkl";
    private const string GoodSecret = "gossip-secret-0123456789abcdefghijklmn";

    private static IReadOnlyList<string> Errors(Action<GossipStrategyOptions> configure)
    {
        var options = new GossipStrategyOptions();
        configure(options);
        return GossipStrategy.Validate(options, Path);
    }

    [Fact]
    public void Defaults_AreThoseOfLibclusterAndValid()
    {
        var options = new GossipStrategyOptions();

        options.MulticastAddress.Should().Be("233.252.1.32");
        options.Port.Should().Be(45892);
        options.MulticastInterface.Should().BeNull();
        options.Ttl.Should().Be(1);
        options.BroadcastOnly.Should().BeFalse();
        options.HeartbeatInterval.Should().Be(TimeSpan.FromSeconds(5));
        options.ExpireAfter.Should().BeNull();
        options.EffectiveExpireAfter.Should().Be(TimeSpan.FromSeconds(15));
        options.ReplayWindow.Should().Be(TimeSpan.FromSeconds(40));
        options.Secret.Should().BeNull();
        GossipStrategy.Validate(options, Path).Should().BeEmpty();
    }

    [Theory]
    [InlineData("224.0.0.251", null)]
    [InlineData("239.255.255.250", "10.0.0.5")]
    [InlineData("ff15::1:2", null)]
    [InlineData("ff12::1:2", "fd00::5")]
    [InlineData("ff02::1:2", "fe80::1%2")]
    [InlineData("233.252.1.32", "127.0.0.1")]
    public void Validate_GoodGroupAndInterface_HasNoErrors(string group, string? local)
    {
        Errors(o =>
        {
            o.MulticastAddress = group;
            o.MulticastInterface = local;
        }).Should().BeEmpty();
    }

    [Theory]
    [InlineData("1.2.3.4")]
    [InlineData("10.0.0.255")]
    [InlineData("fd00::1")]
    public void Validate_NotAMulticastAddress_NamesTheKey(string group)
    {
        Errors(o => o.MulticastAddress = group).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:MulticastAddress '{group}' is not a multicast address");
    }

    [Theory]
    [InlineData("")]
    [InlineData("multicast")]
    [InlineData("233.252")]
    [InlineData("233.252.1.32:45892")]
    public void Validate_NotAnIpAddress_NamesTheKey(string group)
    {
        Errors(o => o.MulticastAddress = group).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:MulticastAddress '{group}' is not an IP address");
    }

    [Fact]
    public void Validate_BroadcastOnly_IgnoresTheMulticastAddress()
    {
        Errors(o =>
        {
            o.BroadcastOnly = true;
            o.MulticastAddress = "1.2.3.4";
        }).Should().BeEmpty();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(65536)]
    public void Validate_BadPort_NamesTheKey(int port)
    {
        Errors(o => o.Port = port).Should().ContainSingle().Which.Should().StartWith($"{Path}:Port {port} is not a UDP port");
    }

    [Theory]
    [InlineData("eth0", "is not an IP address")]
    [InlineData("10.1", "is not an IP address")]
    [InlineData("0.0.0.0", "is not the address of an interface")]
    [InlineData("::", "is not the address of an interface")]
    [InlineData("224.0.0.1", "is not the address of an interface")]
    [InlineData("fd00::5", "are of different IP versions")]
    public void Validate_BadInterface_NamesTheKey(string local, string problem)
    {
        Errors(o => o.MulticastInterface = local).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:MulticastInterface '{local}' ").And.Contain(problem);
    }

    [Fact]
    public void Validate_BroadcastWithAnIPv6Interface_IsRefused()
    {
        Errors(o =>
        {
            o.BroadcastOnly = true;
            o.MulticastInterface = "fd00::5";
        }).Should().ContainSingle().Which.Should().Contain("BroadcastOnly works with IPv4 only");
    }

    [Theory]
    [InlineData("ff02::1:2")]
    [InlineData("ff12::7")]
    [InlineData("ff01::1")]
    public void Validate_LinkLocalIPv6GroupWithoutInterface_AsksForOne(string group)
    {
        Errors(o => o.MulticastAddress = group).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:MulticastInterface is required with the link-local IPv6 group '{group}'");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(256)]
    public void Validate_BadTtl_NamesTheKey(int ttl)
    {
        Errors(o => o.Ttl = ttl).Should().ContainSingle().Which.Should().StartWith($"{Path}:Ttl {ttl} is out of range");
    }

    [Fact]
    public void Validate_HeartbeatIntervalTooShortOrDays_NamesTheKey()
    {
        Errors(o => o.HeartbeatInterval = TimeSpan.FromMilliseconds(10)).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:HeartbeatInterval 00:00:00.0100000 is too short");
        Errors(o => o.HeartbeatInterval = TimeSpan.FromDays(5)).Should().ContainSingle()
            .Which.Should().Contain("a bare number means days");
    }

    [Fact]
    public void Validate_ExpireAfterShorterThanTwoHeartbeats_NamesTheKey()
    {
        Errors(o =>
        {
            o.HeartbeatInterval = TimeSpan.FromSeconds(5);
            o.ExpireAfter = TimeSpan.FromSeconds(9);
        }).Should().ContainSingle().Which.Should().StartWith($"{Path}:ExpireAfter 00:00:09 is shorter than twice HeartbeatInterval");

        Errors(o =>
        {
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(200);
            o.ExpireAfter = TimeSpan.FromMilliseconds(600);
        }).Should().BeEmpty();
    }

    [Theory]
    [InlineData("short-secret")]
    [InlineData("0123456789012345678901234567890")]
    public void Validate_ShortSecret_SaysHowLongWithoutShowingIt(string secret)
    {
        var error = Errors(o => o.Secret = secret).Should().ContainSingle().Which;

        error.Should().StartWith($"{Path}:Secret is too short ({secret.Length} characters)");
        error.Should().NotContain(secret);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public void Validate_EmptySecret_IsAnErrorNotPlainMode(string secret)
    {
        Errors(o => o.Secret = secret).Should().ContainSingle().Which.Should().StartWith($"{Path}:Secret is empty");
    }

    [Fact]
    public void Validate_SecretOfMinimumLength_IsAccepted()
    {
        Errors(o => o.Secret = new string('s', GossipStrategyOptions.MinSecretLength)).Should().BeEmpty();
    }

    [Fact]
    public void AddLibCluster_GossipTopology_BindsItsOptionsFromConfiguration()
    {
        using var provider = Build(new Dictionary<string, string?>
        {
            ["LibCluster:Topologies:lan:Config:MulticastAddress"] = "239.1.2.3",
            ["LibCluster:Topologies:lan:Config:Port"] = "45000",
            ["LibCluster:Topologies:lan:Config:MulticastInterface"] = "127.0.0.1",
            ["LibCluster:Topologies:lan:Config:Ttl"] = "2",
            ["LibCluster:Topologies:lan:Config:HeartbeatInterval"] = "00:00:00.2",
            ["LibCluster:Topologies:lan:Config:ExpireAfter"] = "00:00:01",
            ["LibCluster:Topologies:lan:Config:Secret"] = GoodSecret,
        });

        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        var bound = new GossipStrategyOptions();
        options.Topologies["lan"].Config!.Bind(bound);

        bound.MulticastAddress.Should().Be("239.1.2.3");
        bound.Port.Should().Be(45000);
        bound.MulticastInterface.Should().Be("127.0.0.1");
        bound.Ttl.Should().Be(2);
        bound.HeartbeatInterval.Should().Be(TimeSpan.FromMilliseconds(200));
        bound.ExpireAfter.Should().Be(TimeSpan.FromSeconds(1));
        bound.Secret.Should().Be(GoodSecret);
        var registration = provider.GetServices<StrategyRegistration>().Single(s => s.Name == "Gossip");
        registration.Create(provider, options.Topologies["lan"]).Should().BeOfType<GossipStrategy>();
    }

    [Fact]
    public void AddLibCluster_BadGossipConfig_FailsWithErrorsNamingTheKeys()
    {
        using var provider = Build(new Dictionary<string, string?>
        {
            ["LibCluster:Topologies:lan:Config:MulticastAddress"] = "1.2.3.4",
            ["LibCluster:Topologies:lan:Config:Secret"] = "too-short-secret",
        });

        var read = () => provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;

        var failures = read.Should().Throw<OptionsValidationException>().Which.Failures.ToList();
        failures.Should().Contain($"{Path}:MulticastAddress '1.2.3.4' is not a multicast address (IPv4 224.0.0.0 to 239.255.255.255, IPv6 ff00::/8); to send to the broadcast address instead, set BroadcastOnly to true.");
        failures.Should().Contain(f => f.StartsWith($"{Path}:Secret is too short", StringComparison.Ordinal));
        failures.Should().NotContain(f => f.Contains("too-short-secret"));
    }

    [Fact]
    public void AddLibCluster_StrategyNameInAnyCase_IsGossip()
    {
        using var provider = Build(new Dictionary<string, string?>(), strategy: "gOSSip");

        provider.GetRequiredService<IOptions<LibClusterOptions>>().Value.Topologies["lan"].Strategy.Should().Be("gOSSip");
    }

    private static ServiceProvider Build(Dictionary<string, string?> settings, string strategy = "Gossip")
    {
        settings["LibCluster:Node:Name"] = "app0@127.0.0.1";
        settings["LibCluster:Node:Cookie"] = Cookie;
        settings["LibCluster:Topologies:lan:Strategy"] = strategy;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddLibCluster(configuration.GetSection("LibCluster"));
        return services.BuildServiceProvider();
    }
}
