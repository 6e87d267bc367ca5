using LibCluster.Hosting;
using LibCluster.Nodes;
using LibCluster.Strategies.Dns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace LibCluster.Tests.Strategies.Dns;

public sealed class DnsRegistrationTests
{
    private const string Cookie = "unit-test-cookie-0123456789abcdefghijkl";

    private static ServiceProvider Build(Dictionary<string, string?> topology, FakeDnsResolver? resolver = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = "app@10.0.0.1",
            ["LibCluster:Node:Cookie"] = Cookie,
        };
        foreach (var (key, value) in topology)
        {
            settings[$"LibCluster:Topologies:k8s:{key}"] = value;
        }

        var services = new ServiceCollection().AddLogging();
        if (resolver is not null)
        {
            services.AddSingleton<IDnsResolver>(resolver);
        }

        services.AddLibCluster(new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection("LibCluster"));
        return services.BuildServiceProvider();
    }

    private static IEnumerable<string> Failures(Dictionary<string, string?> topology)
    {
        using var provider = Build(topology);
        var read = () => provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        return read.Should().Throw<OptionsValidationException>().Which.Failures;
    }

    [Theory]
    [InlineData("Dns")]
    [InlineData("DnsSrv")]
    public void Validate_MissingQuery_NamesTheConfigKey(string strategy)
    {
        var failures = Failures(new() { ["Strategy"] = strategy, ["Config:NodeBasename"] = "app" });

        failures.Should().ContainSingle().Which.Should().StartWith("LibCluster:Topologies:k8s:Config:Query is required");
    }

    [Fact]
    public void Validate_BadValues_NameEachKey()
    {
        var failures = Failures(new()
        {
            ["Strategy"] = "Dns",
            ["Config:Query"] = "myapp.example",
            ["Config:NameServer"] = "resolver.example:53",
            ["Config:PollingInterval"] = "10",
        });

        failures.Should().HaveCount(2);
        failures.Should().Contain(f => f.StartsWith("LibCluster:Topologies:k8s:Config:NameServer 'resolver.example:53'", StringComparison.Ordinal));
        failures.Should().Contain(f => f.StartsWith("LibCluster:Topologies:k8s:Config:PollingInterval 10.00:00:00", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("dns", typeof(DnsStrategy))]
    [InlineData("DNSSRV", typeof(DnsSrvStrategy))]
    public void Create_StrategyNameInAnyCase_MakesTheStrategy(string name, Type expected)
    {
        using var provider = Build(new() { ["Strategy"] = name, ["Config:Query"] = "_dist._tcp.myapp.example" });
        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        var registration = provider.GetServices<StrategyRegistration>().Single(r => string.Equals(r.Name, name, StringComparison.OrdinalIgnoreCase));

        registration.Create(provider, options.Topologies["k8s"]).Should().BeOfType(expected);
    }

    [Fact]
    public void AddLibCluster_Default_RegistersTheDnsClientResolver()
    {
        using var provider = Build(new());

        provider.GetRequiredService<IDnsResolver>().Should().BeOfType<DnsClientResolver>();
    }

    [Fact]
    public async Task AddLibCluster_ResolverRegisteredFirst_IsTheOneTheStrategyAsks()
    {
        var resolver = new FakeDnsResolver().Addresses("10.0.0.2", "10.0.0.3");
        using var provider = Build(
            new()
            {
                ["Strategy"] = "Dns",
                ["Config:Query"] = "myapp.example",
                ["Config:NameServer"] = "127.0.0.1:5353",
                ["Config:PollingInterval"] = "00:00:01",
            },
            resolver);
        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        var strategy = provider.GetServices<StrategyRegistration>().Single(r => r.Name == "Dns").Create(provider, options.Topologies["k8s"]);
        await using var driver = new PollDriver(strategy, resolver, self: NodeName.Parse("app@10.0.0.1"));

        var set = await driver.PollAsync();

        set.Should().BeEquivalentTo([new NodeAddress(NodeName.Parse("app@10.0.0.2"), 9001), new NodeAddress(NodeName.Parse("app@10.0.0.3"), 9001)]);
        resolver.Queries.Single().Should().Be(new DnsQuery("myapp.example", System.Net.IPEndPoint.Parse("127.0.0.1:5353"), TimeSpan.FromSeconds(1)));
    }
}
