using LibCluster.Diagnostics;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;
using LibCluster.Tests.Topology;
using LibCluster.Topology;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Strategies.Gossip;

/// <summary>
/// A gossip strategy on a fake clock and an in-memory transport, enumerated by the test one set at a time; drops are
/// read back from the <c>libcluster.gossip.packets.dropped</c> counter (for this harness's topology only, by the
/// <see cref="GossipDropCounter"/> the integration tests' GossipPeer uses too) and logs are captured.
/// </summary>
internal sealed class GossipHarness : IAsyncDisposable
{
    public const string Secret = "unit-test-gossip-secret-0123456789abcdef";
    public const uint SelfCreation = 0xA11CE;
    public static readonly NodeName SelfName = NodeName.Parse("a@10.0.0.1");

    private readonly LoggerFactory _loggers;
    private readonly GossipDropCounter _drops;
    private readonly List<FakeGossipTransport> _transports = [];
    private CancellationTokenSource? _cancellation;
    private IAsyncEnumerator<IReadOnlySet<NodeAddress>>? _enumerator;
    private Task<bool>? _pending;

    public GossipHarness(GossipStrategyOptions? options = null, int defaultPort = 9001)
    {
        Options = options ?? new GossipStrategyOptions { HeartbeatInterval = TimeSpan.FromSeconds(1) };
        Time = new TimerTrackingTimeProvider();
        Logs = new CapturingLoggerProvider(Time);
        _loggers = new LoggerFactory([Logs], new LoggerFilterOptions { MinLevel = LogLevel.Trace });
        Topology = $"gossip-{Guid.NewGuid():N}";
        Strategy = new GossipStrategy(Options, SelfCreation, _ =>
        {
            var transport = new FakeGossipTransport();
            lock (_transports)
            {
                _transports.Add(transport);
            }

            return transport;
        });
        Context = new TopologyContext
        {
            TopologyName = Topology,
            Self = SelfName,
            DefaultPort = defaultPort,
            TimeProvider = Time,
            Logger = _loggers.CreateLogger("gossip"),
            Metrics = new ClusterMetrics(null),
        };

        _drops = new GossipDropCounter(Topology);
    }

    public GossipStrategyOptions Options { get; }

    public TimerTrackingTimeProvider Time { get; }

    public CapturingLoggerProvider Logs { get; }

    public string Topology { get; }

    public GossipStrategy Strategy { get; }

    public TopologyContext Context { get; }

    /// <summary>The transport of the current (last started) enumeration.</summary>
    public FakeGossipTransport Transport
    {
        get
        {
            lock (_transports)
            {
                return _transports[^1];
            }
        }
    }

    public IReadOnlyList<FakeGossipTransport> Transports
    {
        get
        {
            lock (_transports)
            {
                return [.. _transports];
            }
        }
    }

    /// <summary>A pending yield: true when one has completed since the last <see cref="NextSetAsync"/>.</summary>
    public bool HasYielded => _pending is { IsCompleted: true };

    public static NodeAddress Address(string name, int port) => new(NodeName.Parse(name), port);

    public long Dropped(string reason) => _drops.Dropped(reason);

    /// <summary>Starts an enumeration and waits until it has opened its transport and sent its first heartbeat.</summary>
    public async Task StartAsync()
    {
        _cancellation = new CancellationTokenSource();
        var count = Transports.Count;
        _enumerator = Strategy.WatchAsync(Context, _cancellation.Token).GetAsyncEnumerator(_cancellation.Token);
        _pending = _enumerator.MoveNextAsync().AsTask();
        await Eventually.TrueAsync(() => Transports.Count > count && Transport.SentCount > 0, "the strategy opened its transport and sent a heartbeat");
    }

    /// <summary>Waits for the next yielded set.</summary>
    public async Task<IReadOnlySet<NodeAddress>> NextSetAsync()
    {
        var more = await _pending!.WithTimeout();
        more.Should().BeTrue("the enumeration runs until it is cancelled");
        var set = _enumerator!.Current;
        _pending = _enumerator.MoveNextAsync().AsTask();
        return set;
    }

    /// <summary>Cancels the enumeration and waits until it has ended and released its transport.</summary>
    public async Task StopAsync()
    {
        await _cancellation!.CancelAsync();
        try
        {
            // Sets yielded before the cancellation and not read by the test are skipped; then the enumeration ends.
            while (await _pending!.WithTimeout())
            {
                _pending = _enumerator!.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception) when (_pending!.IsFaulted)
        {
            // The enumeration had already failed; the test looked at that failure.
        }

        await _enumerator!.DisposeAsync().AsTask().WithTimeout();
        _cancellation.Dispose();
        _cancellation = null;
        _enumerator = null;
        _pending = null;
    }

    public void Deliver(byte[] packet, System.Net.EndPoint? source = null) => Transport.Deliver(packet, source);

    /// <summary>Delivers datagrams and waits until the strategy has handled them all.</summary>
    public async Task DeliverAndWaitAsync(params byte[][] packets)
    {
        foreach (var packet in packets)
        {
            Transport.Deliver(packet);
        }

        await Transport.WaitHandledAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_cancellation is not null)
        {
            await StopAsync();
        }

        _drops.Dispose();
        _loggers.Dispose();
    }
}
