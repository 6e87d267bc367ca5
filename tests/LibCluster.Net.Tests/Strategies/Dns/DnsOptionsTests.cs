using System.Net;
using LibCluster.Strategies.Dns;
using Microsoft.Extensions.Configuration;

namespace LibCluster.Tests.Strategies.Dns;

public sealed class DnsOptionsTests
{
    private const string Path = "LibCluster:Topologies:k8s:Config";

    private static DnsStrategyOptions Valid() => new() { Query = "myapp-headless.default.svc.cluster.local", NodeBasename = "app" };

    [Fact]
    public void Defaults_AreFiveSecondsAndTheSystemResolver()
    {
        var options = new DnsStrategyOptions();
        var srv = new DnsSrvStrategyOptions();

        options.PollingInterval.Should().Be(TimeSpan.FromSeconds(5));
        srv.PollingInterval.Should().Be(TimeSpan.FromSeconds(5));
        options.NameServer.Should().BeNull();
        options.NodeBasename.Should().BeNull();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("10.96.0.10")]
    [InlineData("10.96.0.10:53")]
    [InlineData("127.0.0.1:5353")]
    [InlineData("[fd00::10]:53")]
    [InlineData("[::1]")]
    [InlineData("::1")]
    public void Validate_ValidOptions_ReturnsNoErrors(string? nameServer)
    {
        var options = Valid();
        options.NameServer = nameServer;

        DnsStrategy.Validate(options, Path).Should().BeEmpty();
        DnsSrvStrategy.Validate(new DnsSrvStrategyOptions { Query = "_dist._tcp.myapp.default.svc.cluster.local", NameServer = nameServer }, Path).Should().BeEmpty();
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Validate_NoQuery_NamesTheKey(string? query)
    {
        var options = Valid();
        options.Query = query;

        DnsStrategy.Validate(options, Path).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:Query is required").And.Contain("A and AAAA");
        DnsSrvStrategy.Validate(new DnsSrvStrategyOptions { Query = query }, Path).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:Query is required").And.Contain("SRV").And.Contain("_dist._tcp.");
    }

    [Theory]
    [InlineData("my app.example")]
    [InlineData("a..example")]
    [InlineData("http://myapp.example")]
    [InlineData("myapp.example:53")]
    public void Validate_QueryNotADnsName_NamesTheKey(string query)
    {
        var options = Valid();
        options.Query = query;

        DnsStrategy.Validate(options, Path).Should().ContainSingle().Which.Should().StartWith($"{Path}:Query '{query}' is not a DNS name");
    }

    [Fact]
    public void Validate_QueryWithLongLabel_NamesTheKey()
    {
        var options = Valid();
        options.Query = new string('a', 64) + ".example";

        DnsStrategy.Validate(options, Path).Should().ContainSingle().Which.Should().Contain("1 to 63 characters");
    }

    [Theory]
    [InlineData("dns.example")]
    [InlineData("dns.example:53")]
    [InlineData("53")]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.1:0")]
    [InlineData("10.0.0.1:65536")]
    [InlineData("10.0.0.1:dns")]
    [InlineData("[fd00::10")]
    [InlineData("[fd00::10]:0")]
    public void Validate_BadNameServer_NamesTheKey(string nameServer)
    {
        var options = Valid();
        options.NameServer = nameServer;

        DnsStrategy.Validate(options, Path).Should().ContainSingle()
            .Which.Should().StartWith($"{Path}:NameServer '{nameServer}' is not an IP address with an optional port");
    }

    [Theory]
    [InlineData("my app")]
    [InlineData("app@host")]
    [InlineData("app/1")]
    public void Validate_BadNodeBasename_NamesTheKey(string basename)
    {
        var options = Valid();
        options.NodeBasename = basename;

        DnsStrategy.Validate(options, Path).Should().ContainSingle().Which.Should().StartWith($"{Path}:NodeBasename '{basename}' is not a valid basename");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Validate_PollingIntervalNotPositive_NamesTheKey(int seconds)
    {
        var options = Valid();
        options.PollingInterval = TimeSpan.FromSeconds(seconds);

        DnsStrategy.Validate(options, Path).Should().ContainSingle().Which.Should().StartWith($"{Path}:PollingInterval").And.Contain("must be positive");
    }

    [Fact]
    public void Validate_PollingIntervalBoundFromABareNumber_ExplainsThatItMeansDays()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Query"] = "myapp.example", ["PollingInterval"] = "5" })
            .Build();
        var options = new DnsSrvStrategyOptions();
        configuration.Bind(options);

        var errors = DnsSrvStrategy.Validate(options, Path);

        options.PollingInterval.Should().Be(TimeSpan.FromDays(5));
        errors.Should().ContainSingle().Which.Should().StartWith($"{Path}:PollingInterval 5.00:00:00 is longer than an hour").And.Contain("bare number means days");
    }

    [Fact]
    public void Validate_PollingIntervalOfAnHour_IsAccepted()
    {
        var options = Valid();
        options.PollingInterval = TimeSpan.FromHours(1);

        DnsStrategy.Validate(options, Path).Should().BeEmpty();
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsEachWithItsKey()
    {
        var options = new DnsStrategyOptions { NodeBasename = "a b", PollingInterval = TimeSpan.Zero, NameServer = "nope" };

        var errors = DnsStrategy.Validate(options, Path);

        errors.Should().HaveCount(4);
        errors.Should().Contain(e => e.StartsWith($"{Path}:Query ", StringComparison.Ordinal));
        errors.Should().Contain(e => e.StartsWith($"{Path}:NodeBasename ", StringComparison.Ordinal));
        errors.Should().Contain(e => e.StartsWith($"{Path}:PollingInterval ", StringComparison.Ordinal));
        errors.Should().Contain(e => e.StartsWith($"{Path}:NameServer ", StringComparison.Ordinal));
    }

    [Fact]
    public void Options_BoundFromConfiguration_ReadEveryKey()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Query"] = "_dist._tcp.myapp.example",
                ["NodeBasename"] = "app",
                ["PollingInterval"] = "00:00:00.200",
                ["NameServer"] = "[::1]:5353",
            })
            .Build();
        var options = new DnsSrvStrategyOptions();

        configuration.Bind(options);

        options.Query.Should().Be("_dist._tcp.myapp.example");
        options.NodeBasename.Should().Be("app");
        options.PollingInterval.Should().Be(TimeSpan.FromMilliseconds(200));
        DnsSettings.TryParseNameServer(options.NameServer, out var endpoint).Should().BeTrue();
        endpoint.Should().Be(new IPEndPoint(IPAddress.IPv6Loopback, 5353));
    }
}
