using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using LibCluster.Diagnostics;
using LibCluster.Mesh;
using LibCluster.Mesh.Transport;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A node under attack, built like <see cref="TestNode"/> but with a meter of its own, so that its counters
/// (<see cref="Counters"/>) are not mixed with those of every other node in the process, and a log
/// (<see cref="Log"/>) that counts every line but keeps the text of warnings only, so that a flood of Debug lines does
/// not fill the test's memory. Serves an <c>echo</c> mailbox.
/// </summary>
internal sealed class HostileTarget : IAsyncDisposable
{
    private readonly ServiceProvider _meters;
    private readonly ILoggerFactory _loggers;
    private readonly IDisposable _echo;

    private HostileTarget(ConnectionManager manager, MailboxRegistry mailboxes, Cluster cluster, ServiceProvider meters, ILoggerFactory loggers, CountingLog log, MeshCounters counters)
    {
        Manager = manager;
        Mailboxes = mailboxes;
        Cluster = cluster;
        _meters = meters;
        _loggers = loggers;
        Log = log;
        Counters = counters;
        _echo = cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
    }

    public ConnectionManager Manager { get; }

    public MailboxRegistry Mailboxes { get; }

    public Cluster Cluster { get; }

    public CountingLog Log { get; }

    public MeshCounters Counters { get; }

    public NodeName Name => Manager.Self;

    public NodeAddress Address => new(Name, "127.0.0.1", Manager.ListenEndPoint!.Port);

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Manager.ListenEndPoint!.Port);

    /// <summary>
    /// Starts a target on a free loopback port. <paramref name="time"/> is its clock (the tick, the limiter, the log
    /// throttles; the system's by default); <paramref name="tls"/> turns on mutual TLS under the handshake.
    /// </summary>
    public static HostileTarget Start(string basename = "target", TimeSpan? handshakeTimeout = null, int maxPendingHandshakes = 64, long maxBufferedBytesPerConnection = 1024 * 1024, TimeProvider? time = null, MeshTls? tls = null)
    {
        time ??= TimeProvider.System;
        var meters = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = meters.GetRequiredService<IMeterFactory>();
        var counters = new MeshCounters(factory);
        var log = new CountingLog();
        var loggers = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(log));
        var settings = new MeshSettings
        {
            Name = NodeName.Parse($"{basename}@127.0.0.1"),
            Cookie = TestNode.Cookie,
            ListenAddress = IPAddress.Loopback,
            Port = 0,
            MaxPendingHandshakes = maxPendingHandshakes,
            HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(5),
            MaxBufferedBytesPerConnection = maxBufferedBytesPerConnection,
            Tls = tls,
        };
        var manager = new ConnectionManager(settings, time, new ClusterMetrics(factory), loggers.CreateLogger<ConnectionManager>());
        var mailboxes = new MailboxRegistry(settings.Name, loggers.CreateLogger<MailboxRegistry>());
        manager.Start(mailboxes);
        return new HostileTarget(manager, mailboxes, new Cluster(manager, mailboxes, time), meters, loggers, log, counters);
    }

    /// <summary>A request round trip from <paramref name="peer"/> through the target's echo mailbox.</summary>
    public async Task AssertServesAsync(TestNode peer, TimeSpan timeout, string because)
    {
        var payload = System.Text.Encoding.UTF8.GetBytes(because);
        var reply = await peer.Cluster.RequestAsync(Name, "echo", payload, timeout).AsTask().WaitAsync(timeout);
        reply.Payload.ToArray().Should().Equal(payload, because);
    }

    public async ValueTask DisposeAsync()
    {
        _echo.Dispose();
        try
        {
            await Manager.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
            await Mailboxes.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        }
        finally
        {
            Counters.Dispose();
            _loggers.Dispose();
            await _meters.DisposeAsync();
        }
    }
}

/// <summary>The target's own instruments: handshake failures (inbound) and closed connections by reason, messages received.</summary>
internal sealed class MeshCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _handshakeFailures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _closed = new(StringComparer.Ordinal);
    private long _messagesReceived;

    public MeshCounters(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // The factory is the meter's scope: this filters out every other node's instruments of the same name.
            if (ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? reason = null, direction = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "reason")
                {
                    reason = tag.Value as string;
                }
                else if (tag.Key == "direction")
                {
                    direction = tag.Value as string;
                }
            }

            switch (instrument.Name)
            {
                case "libcluster.handshake.failures" when direction == "inbound" && reason is not null:
                    _handshakeFailures.AddOrUpdate(reason, value, (_, old) => old + value);
                    break;
                case "libcluster.connection.closed" when reason is not null:
                    _closed.AddOrUpdate(reason, value, (_, old) => old + value);
                    break;
                case "libcluster.messages.received":
                    Interlocked.Add(ref _messagesReceived, value);
                    break;
            }
        });
        _listener.Start();
    }

    public long MessagesReceived => Interlocked.Read(ref _messagesReceived);

    public long HandshakeFailures(string reason) => _handshakeFailures.GetValueOrDefault(reason);

    public IReadOnlyDictionary<string, long> AllHandshakeFailures => new Dictionary<string, long>(_handshakeFailures);

    public long Closed(string reason) => _closed.GetValueOrDefault(reason);

    public void Dispose() => _listener.Dispose();
}

/// <summary>Counts every log line by event id and level; keeps the entries at Warning and above (up to a cap).</summary>
internal sealed class CountingLog : ILoggerProvider
{
    private const int MaxKept = 20_000;

    private readonly ConcurrentDictionary<(int EventId, LogLevel Level), long> _counts = new();
    private readonly ConcurrentQueue<LogEntry> _warnings = new();

    public long Count(int eventId, LogLevel level) => _counts.GetValueOrDefault((eventId, level));

    public long CountAtLeast(LogLevel level) => _counts.Where(c => c.Key.Level >= level).Sum(c => c.Value);

    /// <summary>The entries at Warning and above, in order.</summary>
    public IReadOnlyList<LogEntry> Warnings => [.. _warnings];

    public IReadOnlyList<LogEntry> WarningsWithEventId(int eventId) => _warnings.Where(e => e.EventId.Id == eventId).ToArray();

    public ILogger CreateLogger(string categoryName) => new Counting(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Counting(CountingLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            owner._counts.AddOrUpdate((eventId.Id, logLevel), 1, (_, old) => old + 1);
            if (logLevel < LogLevel.Warning || owner._warnings.Count >= MaxKept)
            {
                return;
            }

            owner._warnings.Enqueue(LogEntry.Capture(category, logLevel, eventId, state, exception, formatter));
        }
    }
}

/// <summary>What the process holds: for checking that an attack leaves memory and threads bounded.</summary>
internal readonly record struct ProcessFootprint(long ManagedBytes, int Threads)
{
    public static ProcessFootprint Measure()
    {
        using var process = Process.GetCurrentProcess();
        return new ProcessFootprint(GC.GetTotalMemory(forceFullCollection: true), process.Threads.Count);
    }

    public override string ToString() => $"{ManagedBytes / 1024 / 1024.0:0.0} MiB managed, {Threads} threads";
}
