using LibCluster.Eureka.CloudFoundry;
using LibCluster.Nodes;
using LibCluster.Topology;
using Microsoft.Extensions.DependencyInjection;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>
/// Runs one <see cref="EurekaStrategy"/> the way the topology runtime does (through <see cref="ITopologyStrategy"/>,
/// with a context of its own), without a mesh, and steps through what it yields.
/// </summary>
internal sealed class StrategyHarness : IAsyncDisposable
{
    public const string Topology = "cf";

    private readonly ServiceProvider _services;
    private readonly CancellationTokenSource _stop = new();
    private readonly IAsyncEnumerator<IReadOnlySet<NodeAddress>> _sets;
    private Task<bool>? _pending;
    private bool _disposed;

    private StrategyHarness(ServiceProvider services, ITopologyStrategy strategy, TopologyContext context, LogCollector logs)
    {
        _services = services;
        Logs = logs;
        Context = context;
        _sets = strategy.WatchAsync(context, _stop.Token).GetAsyncEnumerator(_stop.Token);
    }

    public LogCollector Logs { get; }

    public TopologyContext Context { get; }

    public static StrategyHarness Start(EurekaStrategyOptions options, string self = "me@127.0.0.1", int port = 9001, IEnvironmentVariables? environment = null)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddEurekaHttpClient();
        var provider = services.BuildServiceProvider();
        var logs = new LogCollector();
        var context = new TopologyContext
        {
            TopologyName = Topology,
            Self = NodeName.Parse(self),
            DefaultPort = port,
            TimeProvider = TimeProvider.System,
            Logger = logs.CreateLogger($"LibCluster.Topology.{Topology}"),
        };
        var strategy = new EurekaStrategy(options, provider.GetRequiredService<IHttpClientFactory>(), environment ?? FakeEnvironment.Empty, new EurekaMetrics(null));
        return new StrategyHarness(provider, strategy, context, logs);
    }

    /// <summary>Fast settings against <paramref name="server"/>: poll every 100 ms, renew every 300 ms, a 3 s lease.</summary>
    public static EurekaStrategyOptions FastOptions(FakeEurekaServer server, string appName = "my-app") => new()
    {
        ServiceUrl = server.ServiceUrl.ToString(),
        AppName = appName,
        PollingInterval = TimeSpan.FromMilliseconds(100),
        RenewalInterval = TimeSpan.FromMilliseconds(300),
        LeaseDuration = TimeSpan.FromSeconds(3),
    };

    /// <summary>Starts waiting for the next set; the task completes when the strategy yields (true) or ends (false).</summary>
    public Task<bool> MoveNextAsync() => _pending = _sets.MoveNextAsync().AsTask();

    public IReadOnlySet<NodeAddress> Current => _sets.Current;

    public async Task<IReadOnlySet<NodeAddress>> NextAsync(TimeSpan timeout)
    {
        (await MoveNextAsync().WaitAsync(timeout)).Should().BeTrue("the strategy runs until it is stopped");
        return Current;
    }

    /// <summary>Cancels, as the runtime does when the host stops, and waits for the enumeration to end.</summary>
    public ValueTask StopAsync() => StopAsync(cancel: true);

    /// <summary>Disposes the enumeration between two sets without cancelling it, as a consumer that breaks out of its loop does.</summary>
    public ValueTask AbandonAsync() => StopAsync(cancel: false);

    public ValueTask DisposeAsync() => StopAsync(cancel: true);

    private async ValueTask StopAsync(bool cancel)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (cancel)
        {
            await _stop.CancelAsync();
        }

        if (_pending is { } pending)
        {
            try
            {
                await pending.WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (OperationCanceledException)
            {
            }
        }

        await _sets.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        await _services.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }
}
