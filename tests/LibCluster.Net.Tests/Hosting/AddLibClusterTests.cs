using System.ComponentModel.DataAnnotations;
using System.Runtime.CompilerServices;
using LibCluster.Hosting;
using LibCluster.Messaging;
using LibCluster.Nodes;
using LibCluster.Strategies.Static;
using LibCluster.Topology;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace LibCluster.Tests.Hosting;

public sealed class AddLibClusterTests
{
    private const string GoodCookie = "unit-test-cookie-0123456789abcdefghijkl";

    private static ServiceProvider Build(Dictionary<string, string?> settings, Action<ILibClusterBuilder>? configure = null)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection().AddLogging();
        var builder = services.AddLibCluster(configuration.GetSection("LibCluster"));
        configure?.Invoke(builder);
        return services.BuildServiceProvider();
    }

    private static Dictionary<string, string?> Valid() => new()
    {
        ["LibCluster:Node:Name"] = "app0@127.0.0.1",
        ["LibCluster:Node:Cookie"] = GoodCookie,
    };

    private static IEnumerable<string> Failures(Dictionary<string, string?> settings, Action<ILibClusterBuilder>? configure = null)
    {
        using var provider = Build(settings, configure);
        var read = () => provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        return read.Should().Throw<OptionsValidationException>().Which.Failures;
    }

    [Fact]
    public void Validate_ValidSettings_Succeeds()
    {
        using var provider = Build(Valid());

        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;

        options.Node.Name.Should().Be("app0@127.0.0.1");
        provider.GetRequiredService<ICluster>().Self.Should().Be(NodeName.Parse("app0@127.0.0.1"));
    }

    [Fact]
    public void Validate_MissingCookie_NamesTheKeyAndTheEnvironmentVariable()
    {
        var settings = Valid();
        settings.Remove("LibCluster:Node:Cookie");

        Failures(settings).Should().ContainSingle(f => f.StartsWith("LibCluster:Node:Cookie is required", StringComparison.Ordinal) && f.Contains("LibCluster__Node__Cookie"));
    }

    [Fact]
    public void Validate_ShortCookie_IsRefused()
    {
        var settings = Valid();
        settings["LibCluster:Node:Cookie"] = "short";

        Failures(settings).Should().ContainSingle(f => f.StartsWith("LibCluster:Node:Cookie is too short", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("no-at-sign")]
    [InlineData("a@b@c")]
    [InlineData("bad name@host")]
    public void Validate_BadNodeName_NamesTheKey(string name)
    {
        var settings = Valid();
        settings["LibCluster:Node:Name"] = name;

        Failures(settings).Should().ContainSingle(f => f.StartsWith("LibCluster:Node:Name is not valid", StringComparison.Ordinal) && f.Contains(name));
    }

    [Fact]
    public void Validate_BadListenAddressAndPort_BothReported()
    {
        var settings = Valid();
        settings["LibCluster:Node:ListenAddress"] = "not-an-ip";
        settings["LibCluster:Node:Port"] = "70000";

        Failures(settings).Should().Contain(f => f.StartsWith("LibCluster:Node:ListenAddress", StringComparison.Ordinal))
            .And.Contain(f => f.StartsWith("LibCluster:Node:Port", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ShortAcceptedCookie_NamesItsIndex()
    {
        var settings = Valid();
        settings["LibCluster:Node:AcceptedCookies:0"] = GoodCookie + "-next";
        settings["LibCluster:Node:AcceptedCookies:1"] = "short";

        Failures(settings).Should().ContainSingle(f => f.StartsWith("LibCluster:Node:AcceptedCookies:1 is too short", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("MailboxCapacity", "0")]
    [InlineData("MailboxCapacityBytes", "0")]
    [InlineData("MailboxCapacityBytes", "-5")]
    public void Validate_MailboxBoundBelowOne_NamesTheKey(string key, string value)
    {
        var settings = Valid();
        settings[$"LibCluster:Node:{key}"] = value;

        Failures(settings).Should().ContainSingle(f => f == $"LibCluster:Node:{key} must be at least 1.");
    }

    [Fact]
    public void Validate_UnknownStrategy_ListsTheKnownOnes()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:k8s:Strategy"] = "Kubernetes";

        Failures(settings).Should().ContainSingle(f => f.StartsWith("LibCluster:Topologies:k8s:Strategy 'Kubernetes' is not a known strategy", StringComparison.Ordinal) && f.Contains("Static"));
    }

    [Fact]
    public void Validate_StrategyNameInAnotherCase_IsAccepted()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:fixed:Strategy"] = "sTaTiC";
        settings["LibCluster:Topologies:fixed:Config:Nodes:0"] = "app1@127.0.0.1";
        using var provider = Build(settings);

        provider.GetRequiredService<IOptions<LibClusterOptions>>().Value.Topologies.Should().ContainKey("fixed");
    }

    [Fact]
    public void Validate_DisabledTopology_IsNotChecked()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:off:Strategy"] = "NoSuchStrategy";
        settings["LibCluster:Topologies:off:Enabled"] = "false";
        using var provider = Build(settings);

        provider.GetRequiredService<IOptions<LibClusterOptions>>().Value.Topologies["off"].Enabled.Should().BeFalse();
    }

    [Fact]
    public void Validate_BadStaticEntry_NamesItsIndex()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:fixed:Strategy"] = "Static";
        settings["LibCluster:Topologies:fixed:Config:Nodes:0"] = "app1@127.0.0.1";
        settings["LibCluster:Topologies:fixed:Config:Nodes:1"] = "app2@127.0.0.1:99999";

        Failures(settings).Should().ContainSingle(f => f.StartsWith("LibCluster:Topologies:fixed:Config:Nodes:1", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_UnconvertibleStrategySetting_NamesTheKey()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:mine:Strategy"] = "Timed";
        settings["LibCluster:Topologies:mine:Config:Interval"] = "not-a-timespan";

        Failures(settings, b => b.AddStrategy<TimedStrategy, TimedOptions>("Timed"))
            .Should().ContainSingle(f => f.Contains("LibCluster:Topologies:mine:Config:Interval"));
    }

    [Fact]
    public void Validate_DataAnnotationsOnStrategyOptions_NameTheMember()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:mine:Strategy"] = "Timed";
        settings["LibCluster:Topologies:mine:Config:Interval"] = "00:00:01";

        Failures(settings, b => b.AddStrategy<TimedStrategy, TimedOptions>("Timed"))
            .Should().ContainSingle(f => f.StartsWith("LibCluster:Topologies:mine:Config:Service", StringComparison.Ordinal));
    }

    [Fact]
    public void AddStrategy_CustomStrategy_IsCreatedWithItsBoundOptions()
    {
        var settings = Valid();
        settings["LibCluster:Topologies:mine:Strategy"] = "Timed";
        settings["LibCluster:Topologies:mine:Config:Interval"] = "00:00:07";
        settings["LibCluster:Topologies:mine:Config:Service"] = "billing";
        using var provider = Build(settings, b => b.AddStrategy<TimedStrategy, TimedOptions>("Timed"));
        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        var registration = provider.GetServices<StrategyRegistration>().Single(r => r.Name == "Timed");

        var strategy = (TimedStrategy)registration.Create(provider, options.Topologies["mine"]);

        strategy.Options.Interval.Should().Be(TimeSpan.FromSeconds(7));
        strategy.Options.Service.Should().Be("billing");
    }

    [Fact]
    public void AddStrategy_WithBindDelegate_BindsThroughItAndChecksOnlyTheValidator()
    {
        // The trim-safe overload: options come from the delegate (here the source-generated binder), data
        // annotations are not looked at (Service is [Required] and missing), the validator is.
        var settings = Valid();
        settings["LibCluster:Topologies:mine:Strategy"] = "Timed";
        settings["LibCluster:Topologies:mine:Config:Interval"] = "00:00:07";
        var bound = 0;
        void AddTimed(ILibClusterBuilder b) => b.AddStrategy<TimedOptions>(
            "Timed",
            (config, options) =>
            {
                bound++;
                config.Bind(options);
            },
            static (_, options) => new TimedStrategy(options),
            static (options, path) => options.Interval > TimeSpan.FromSeconds(8) ? [$"{path}:Interval is over 8 s."] : []);
        using var provider = Build(settings, AddTimed);
        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        var registration = provider.GetServices<StrategyRegistration>().Single(r => r.Name == "Timed");

        var strategy = (TimedStrategy)registration.Create(provider, options.Topologies["mine"]);

        strategy.Options.Interval.Should().Be(TimeSpan.FromSeconds(7));
        strategy.Options.Service.Should().BeNull("the [Required] on it is not checked on this path");
        bound.Should().BeGreaterThanOrEqualTo(2, "once to validate, once to create");

        settings["LibCluster:Topologies:mine:Config:Interval"] = "00:00:09";
        Failures(settings, AddTimed).Should().Equal("LibCluster:Topologies:mine:Config:Interval is over 8 s.");
    }

    [Fact]
    public void AddStrategy_SameNameTwice_Throws()
    {
        var services = new ServiceCollection();
        var builder = services.AddLibCluster(o => o.Node.Cookie = GoodCookie);

        var again = () => builder.AddStrategy<TimedStrategy, TimedOptions>("static");

        again.Should().Throw<InvalidOperationException>().WithMessage("*'static'*already registered*");
    }

    [Fact]
    public void AddLibCluster_CalledTwice_RegistersOnce()
    {
        var services = new ServiceCollection();
        services.AddLibCluster(o => o.Node.Cookie = GoodCookie);
        var strategies = services.Count(d => d.ServiceType == typeof(StrategyRegistration));
        services.AddLibCluster(o => o.Node.Name = "twice@127.0.0.1");

        services.Count(d => d.ServiceType == typeof(IHostedService)).Should().Be(1);
        services.Count(d => d.ServiceType == typeof(StrategyRegistration)).Should().Be(strategies);
        using var provider = services.AddLogging().BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;
        options.Node.Cookie.Should().Be(GoodCookie);
        options.Node.Name.Should().Be("twice@127.0.0.1");
    }

    [Fact]
    public void AddLibCluster_CodeOverload_ConfiguresStaticThroughConfigure()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddLibCluster(o =>
        {
            o.Node.Name = "code@127.0.0.1";
            o.Node.Cookie = GoodCookie;
            o.Topologies["fixed"] = new TopologyOptions { Strategy = "Static" }
                .Configure<StaticStrategyOptions>(s => s.Nodes.Add("other@127.0.0.1:9100"));
        });
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<IOptions<LibClusterOptions>>().Value;

        var registration = provider.GetServices<StrategyRegistration>().Single(r => r.Name == "Static");
        registration.Validate(options.Topologies["fixed"], "LibCluster:Topologies:fixed:Config").Should().BeEmpty();
        registration.Create(provider, options.Topologies["fixed"]).Should().BeOfType<StaticStrategy>();
    }

    [Fact]
    public void Settings_NoName_UsesBasenameAndAHost()
    {
        var settings = Valid();
        settings.Remove("LibCluster:Node:Name");
        settings["LibCluster:Node:Basename"] = "worker";
        using var provider = Build(settings);

        var self = provider.GetRequiredService<ICluster>().Self;

        self.Basename.Should().Be("worker");
        self.Host.Should().NotBeNullOrEmpty();
    }

    public sealed class TimedOptions
    {
        public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);

        [Required]
        public string? Service { get; set; }
    }

    public sealed class TimedStrategy(TimedOptions options) : ITopologyStrategy
    {
        public TimedOptions Options { get; } = options;

        public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(TopologyContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            yield break;
        }
    }
}
