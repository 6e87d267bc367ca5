using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LibCluster.Tests.Topology;

/// <summary>Keeps every log record, stamped with the test's clock.</summary>
internal sealed class CapturingLoggerProvider(TimeProvider time) : ILoggerProvider
{
    private readonly ConcurrentQueue<LogRecord> _records = new();

    public IReadOnlyList<LogRecord> Records => [.. _records];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._records.Enqueue(new LogRecord(category, logLevel, eventId.Id, formatter(state, exception), exception, owner.Now()));
    }

    private DateTimeOffset Now() => time.GetUtcNow();
}

internal sealed record LogRecord(string Category, LogLevel Level, int EventId, string Message, Exception? Exception, DateTimeOffset At);
