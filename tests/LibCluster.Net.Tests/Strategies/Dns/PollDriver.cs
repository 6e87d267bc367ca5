using System.Diagnostics.Metrics;
using LibCluster.Diagnostics;
using LibCluster.Nodes;
using LibCluster.Tests.Topology;
using LibCluster.Topology;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Strategies.Dns;

/// <summary>
/// Drives a polling strategy one poll at a time on fake time: <see cref="PollAsync"/> jumps to the pending polling
/// delay, waits until the lookup was made and its result handled, and tells whether a new set was yielded.
/// </summary>
internal sealed class PollDriver : IAsyncDisposable
{
    private readonly IAsyncEnumerator<IReadOnlySet<NodeAddress>> _enumerator;
    private readonly CancellationTokenSource _stop = new();
    private readonly TimerTrackingTimeProvider _time;
    private readonly FakeDnsResolver _resolver;
    private readonly MeterListener _listener = new();
    private long _errors;
    private Task<bool>? _pending;

    public PollDriver(ITopologyStrategy strategy, FakeDnsResolver resolver, NodeName? self = null, int defaultPort = 9001)
    {
        _time = new TimerTrackingTimeProvider();
        _resolver = resolver;
        Context = new TopologyContext
        {
            // A name of its own, so that the error counter sees only this driver's polls.
            TopologyName = $"dns-{Guid.NewGuid():N}",
            Self = self ?? NodeName.Parse("app@10.0.0.1"),
            DefaultPort = defaultPort,
            TimeProvider = _time,
            Logger = Logs,
            Metrics = new ClusterMetrics(null),
        };
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == ClusterMetrics.MeterName && instrument.Name == "libcluster.discovery.errors")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "topology" && (string?)tag.Value == Context.TopologyName)
                {
                    Interlocked.Add(ref _errors, value);
                }
            }
        });
        _listener.Start();
        _enumerator = strategy.WatchAsync(Context, _stop.Token).GetAsyncEnumerator(_stop.Token);
    }

    public TopologyContext Context { get; }

    public ListLogger Logs { get; } = new();

    /// <summary>The failed polls counted in <c>libcluster.discovery.errors</c> for this topology.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>The sets yielded so far, in order.</summary>
    public List<IReadOnlySet<NodeAddress>> Yielded { get; } = [];

    /// <summary>Runs the next poll (the first one at once, later ones after the polling delay); returns the set it yielded, or null.</summary>
    public async Task<IReadOnlySet<NodeAddress>?> PollAsync()
    {
        var calls = _resolver.Calls;
        _pending ??= _enumerator.MoveNextAsync().AsTask();
        if (calls > 0)
        {
            await _time.AdvanceToNextTimerAsync();
        }

        await Eventually.TrueAsync(() => _resolver.Calls > calls, "the strategy made its next lookup");

        // Handled: either it yielded, or it went back to waiting for the next poll without yielding.
        await Eventually.TrueAsync(() => _pending.IsCompleted || _time.NextDeadline is not null, "the strategy handled the lookup's result");
        if (!_pending.IsCompleted)
        {
            return null;
        }

        var more = await _pending.WithTimeout();
        _pending = null;
        more.Should().BeTrue("a polling strategy runs until it is cancelled");
        Yielded.Add(_enumerator.Current);
        return _enumerator.Current;
    }

    /// <summary>The time the next poll is due after now, when the strategy is waiting for it.</summary>
    public TimeSpan? NextPollIn => _time.NextDeadline - _time.GetUtcNow();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_pending is not null)
        {
            (await _pending.WithTimeout()).Should().BeFalse("cancelling ends the enumeration quietly");
        }

        await _enumerator.DisposeAsync().WithTimeout();
        _listener.Dispose();
        _stop.Dispose();
    }
}

/// <summary>A logger that keeps what it is given.</summary>
internal sealed class ListLogger : ILogger
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
