using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>One log entry as written, with its structured values.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> Values, Exception? Exception)
{
    public string? Value(string name) => Values.TryGetValue(name, out var value) ? value?.ToString() : null;

    public override string ToString() => $"{Level} {EventId} {Category}: {Message}";
}

/// <summary>An in-memory logger provider for asserting on what was logged (everything, Trace included).</summary>
internal sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    public IReadOnlyList<LogEntry> WithEventId(int id) => _entries.Where(e => e.EventId == id).ToArray();

    public ILogger CreateLogger(string categoryName) => new Collecting(this, categoryName);

    /// <summary>Everything logged, as one string per entry with the exception's text, for "never logged" checks.</summary>
    public IEnumerable<string> AllText() => _entries.Select(e => $"{e.Message} {string.Join(' ', e.Values.Values)} {e.Exception}");

    public void Dispose()
    {
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

            owner._entries.Enqueue(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception), values, exception));
        }
    }
}
