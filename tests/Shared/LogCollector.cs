using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace LibCluster.Testing;

/// <summary>
/// One log entry as written: its structured values (the <c>{Placeholders}</c> of the message), its exception and its
/// <see cref="Stopwatch"/> timestamp.
/// </summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Values, Exception? Exception, long Timestamp)
{
    public string? Value(string name) => Values.TryGetValue(name, out var value) ? value?.ToString() : null;

    public override string ToString() => $"{Level} {EventId.Id} {Category}: {Message}";

    /// <summary>What a logger was given, as an entry.</summary>
    public static LogEntry Capture<TState>(string category, LogLevel level, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var values = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
        {
            foreach (var (key, value) in pairs)
            {
                values[key] = value;
            }
        }

        return new LogEntry(category, level, eventId, formatter(state, exception), values, exception, Stopwatch.GetTimestamp());
    }
}

/// <summary>
/// An in-memory logger provider for asserting on what was logged: add it to a host's logging, or hand
/// <see cref="Factory"/> (Debug and up) to code that takes a logger factory.
/// </summary>
internal sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private readonly Lazy<ILoggerFactory> _factory;

    public LogCollector()
    {
        _factory = new(() => LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Debug).AddProvider(this)));
    }

    /// <summary>A logger factory that writes here.</summary>
    public ILoggerFactory Factory => _factory.Value;

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IReadOnlyList<LogEntry> WithEventId(int id) => _entries.Where(e => e.EventId.Id == id).ToArray();

    /// <summary>Everything logged, one string per entry with its values and exception, for "never logged" checks.</summary>
    public IEnumerable<string> AllText() => _entries.Select(e => $"{e.Message} {string.Join(' ', e.Values.Values)} {e.Exception}");

    public ILogger CreateLogger(string categoryName) => new Collecting(this, categoryName);

    public void Dispose()
    {
        // Whoever added this provider disposes it; it holds nothing.
    }

    private sealed class Collecting(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(LogEntry.Capture(category, logLevel, eventId, state, exception, formatter));
    }
}
