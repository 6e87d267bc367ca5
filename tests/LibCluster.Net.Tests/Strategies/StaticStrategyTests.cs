using LibCluster.Nodes;
using LibCluster.Strategies.Static;
using LibCluster.Topology;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace LibCluster.Tests.Strategies;

public sealed class StaticStrategyTests
{
    private const string ConfigPath = "LibCluster:Topologies:fixed:Config";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData("app1@10.0.0.2", "app1@10.0.0.2", "10.0.0.2", 9001)]
    [InlineData("app1@10.0.0.2:9002", "app1@10.0.0.2", "10.0.0.2", 9002)]
    [InlineData("app1@host.example:7000", "app1@host.example", "host.example", 7000)]
    [InlineData("app1@[::1]:9002", "app1@::1", "::1", 9002)]
    [InlineData("app1@[fd00::2]", "app1@fd00::2", "fd00::2", 9001)]
    [InlineData("  app1@10.0.0.2  ", "app1@10.0.0.2", "10.0.0.2", 9001)]
    public async Task WatchAsync_Entry_YieldsItsAddress(string entry, string name, string host, int port)
    {
        var strategy = new StaticStrategy(Options(entry));

        var set = await FirstSetAsync(strategy, Context(defaultPort: 9001));

        set.Should().BeEquivalentTo([new NodeAddress(NodeName.Parse(name), host, port)]);
    }

    [Fact]
    public async Task WatchAsync_SeveralEntries_YieldsThemAllOnceWithTheDefaultPort()
    {
        var strategy = new StaticStrategy(Options("b@10.0.0.2", "c@10.0.0.3:9002", "d@[::1]:9003"));

        var set = await FirstSetAsync(strategy, Context(defaultPort: 9100));

        set.Should().BeEquivalentTo(
        [
            NodeAddress.Parse("b@10.0.0.2:9100", 1),
            NodeAddress.Parse("c@10.0.0.3:9002", 1),
            NodeAddress.Parse("d@[::1]:9003", 1),
        ]);
    }

    [Fact]
    public async Task WatchAsync_AfterTheSet_WaitsUntilCancelledAndEndsQuietly()
    {
        var strategy = new StaticStrategy(Options("b@10.0.0.2"));
        var time = new FakeTimeProvider();
        using var cts = new CancellationTokenSource();
        var enumerator = strategy.WatchAsync(Context(time: time), cts.Token).GetAsyncEnumerator(cts.Token);
        (await enumerator.MoveNextAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue();

        var next = enumerator.MoveNextAsync().AsTask();
        time.Advance(TimeSpan.FromDays(365));
        next.IsCompleted.Should().BeFalse("the list never changes, so nothing more is yielded");

        await cts.CancelAsync().WaitAsync(Timeout);

        (await next.WaitAsync(Timeout)).Should().BeFalse();
        await enumerator.DisposeAsync().AsTask().WaitAsync(Timeout);
    }

    [Fact]
    public async Task WatchAsync_BadEntry_IsSkippedAndLogged()
    {
        var strategy = new StaticStrategy(Options("b@10.0.0.2", "not-a-node"));
        var logger = new ListLogger();

        var set = await FirstSetAsync(strategy, Context(logger: logger));

        set.Should().BeEquivalentTo([NodeAddress.Parse("b@10.0.0.2", 9001)]);
        logger.Entries.Should().ContainSingle(e => e.Level == LogLevel.Warning && e.EventId == 2101)
            .Which.Message.Should().Contain("Nodes:1").And.Contain("not-a-node");
    }

    [Fact]
    public void Validate_ValidEntries_ReturnsNoErrors()
    {
        var errors = StaticStrategy.Validate(Options("b@10.0.0.2", "c@10.0.0.3:9002", "d@[::1]:9003", "e@host.example"), ConfigPath);

        errors.Should().BeEmpty();
    }

    [Fact]
    public void Validate_BadEntry_NamesItsIndexAndKey()
    {
        var errors = StaticStrategy.Validate(Options("b@10.0.0.2", "bad"), ConfigPath);

        errors.Should().ContainSingle().Which.Should().StartWith($"{ConfigPath}:Nodes:1 'bad' is not a node address: ");
    }

    [Theory]
    [InlineData("b@10.0.0.2:0")]
    [InlineData("b@10.0.0.2:65536")]
    [InlineData("b@10.0.0.2:port")]
    [InlineData("b@[::1")]
    [InlineData("@10.0.0.2")]
    [InlineData("b@")]
    [InlineData("")]
    public void Validate_MalformedEntry_ReportsIt(string entry)
    {
        var errors = StaticStrategy.Validate(Options("c@10.0.0.3", "d@10.0.0.4", entry), ConfigPath);

        errors.Should().ContainSingle().Which.Should().StartWith($"{ConfigPath}:Nodes:2 '{entry}' is not a node address: ");
    }

    [Fact]
    public void Validate_NoNodes_NamesTheNodesKey()
    {
        var errors = StaticStrategy.Validate(new StaticStrategyOptions(), ConfigPath);

        errors.Should().ContainSingle().Which.Should().StartWith($"{ConfigPath}:Nodes must list at least one node");
    }

    [Fact]
    public void Validate_SameNodeTwice_NamesBothIndexes()
    {
        var errors = StaticStrategy.Validate(Options("b@10.0.0.2", "c@10.0.0.3", "b@10.0.0.2:9002"), ConfigPath);

        errors.Should().ContainSingle().Which.Should().Be(
            $"{ConfigPath}:Nodes:2 'b@10.0.0.2:9002' names b@10.0.0.2 again (already at {ConfigPath}:Nodes:0).");
    }

    [Fact]
    public void Validate_SeveralBadEntries_ReportsEach()
    {
        var errors = StaticStrategy.Validate(Options("x", "b@10.0.0.2", "y"), ConfigPath);

        errors.Should().HaveCount(2);
        errors[0].Should().StartWith($"{ConfigPath}:Nodes:0 'x'");
        errors[1].Should().StartWith($"{ConfigPath}:Nodes:2 'y'");
    }

    [Fact]
    public void Options_BoundFromConfiguration_ReadsTheNodes()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Nodes:0"] = "b@10.0.0.2",
                ["Nodes:1"] = "c@10.0.0.3:9002",
            })
            .Build();
        var options = new StaticStrategyOptions();

        configuration.Bind(options);

        options.Nodes.Should().Equal("b@10.0.0.2", "c@10.0.0.3:9002");
    }

    private static StaticStrategyOptions Options(params string[] nodes)
    {
        var options = new StaticStrategyOptions();
        foreach (var node in nodes)
        {
            options.Nodes.Add(node);
        }

        return options;
    }

    private static TopologyContext Context(int defaultPort = 9001, TimeProvider? time = null, ILogger? logger = null) => new()
    {
        TopologyName = "fixed",
        Self = NodeName.Parse("a@10.0.0.1"),
        DefaultPort = defaultPort,
        TimeProvider = time ?? new FakeTimeProvider(),
        Logger = logger ?? NullLogger.Instance,
    };

    private static async Task<IReadOnlySet<NodeAddress>> FirstSetAsync(StaticStrategy strategy, TopologyContext context)
    {
        using var cts = new CancellationTokenSource();
        var enumerator = strategy.WatchAsync(context, cts.Token).GetAsyncEnumerator(cts.Token);
        try
        {
            (await enumerator.MoveNextAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue();
            return enumerator.Current;
        }
        finally
        {
            await cts.CancelAsync().WaitAsync(Timeout);
            await enumerator.DisposeAsync().AsTask().WaitAsync(Timeout);
        }
    }

    private sealed class ListLogger : ILogger
    {
        private readonly List<(LogLevel Level, int EventId, string Message)> _entries = [];

        public IReadOnlyList<(LogLevel Level, int EventId, string Message)> Entries
        {
            get
            {
                lock (_entries)
                {
                    return [.. _entries];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_entries)
            {
                _entries.Add((logLevel, eventId.Id, formatter(state, exception)));
            }
        }
    }
}
