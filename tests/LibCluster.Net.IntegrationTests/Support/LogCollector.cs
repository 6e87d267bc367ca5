using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LibCluster.IntegrationTests.Support;

/// <summary>One log entry as written, with its structured values (the <c>{Placeholders}</c> of the message) and its <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Values, long Timestamp)
{
    public string? Value(string name) => Values.TryGetValue(name, out var value) ? value?.ToString() : null;

    public override string ToString() => $"{Level} {EventId.Id} {Category}: {Message}";
}

/// <summary>An in-memory logger factory for asserting on what a node logged.</summary>
internal sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public LogCollector()
    {
        Factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this));
    }

    /// <summary>Pass this to <see cref="TestNode.Start"/>.</summary>
    public ILoggerFactory Factory { get; }

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IReadOnlyList<LogEntry> WithEventId(int id) => _entries.Where(e => e.EventId.Id == id).ToArray();

    public ILogger CreateLogger(string categoryName) => new Collecting(this, categoryName);

    public void Dispose()
    {
        // The factory disposes its providers, this one included; nothing else is held.
    }

    private sealed class Collecting(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = new Dictionary<string, object?>(StringComparer.Ordinal);
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    values[key] = value;
                }
            }

            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), values, System.Diagnostics.Stopwatch.GetTimestamp()));
        }
    }
}
