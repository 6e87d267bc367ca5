using System.Net;
using Microsoft.Extensions.Logging;

namespace LibCluster.Mesh;

/// <summary>
/// Keeps one warning about inbound connections (a failed handshake, event 1004; a connection refused for lack of a
/// handshake slot, event 1006) from flooding the log when one client fails over and over. Per remote IP address (not
/// port): the first occurrence opens a window of <c>window</c> and is logged as usual; the others within the window
/// are only counted. Once the window is over, one summary (event 1009: how many were not logged, the last reason) is
/// logged by the next occurrence from any address or by the next <see cref="Flush"/>, whichever comes first; the next
/// occurrence from the address opens a new window and is logged again. Metrics are not its business: the caller
/// counts every occurrence.
/// </summary>
/// <remarks>
/// <para>
/// No timer per address: windows all have the same length, so the addresses kept in the order their windows opened are
/// also in the order they close, and <see cref="Flush"/> (the connection manager's tick) only looks at the front.
/// </para>
/// <para>
/// Memory is bounded: at most <c>maxTrackedAddresses</c> addresses are remembered. When a new one arrives at the cap,
/// the one whose window opened first is forgotten, its summary logged early. An attacker with more addresses than the
/// cap therefore gets a line per connection again (its first of each address), at most two per address and window.
/// Addresses that are not IP addresses (none in practice) are never throttled. Driven by a
/// <see cref="TimeProvider"/>; thread-safe; the summaries are logged outside the lock.
/// </para>
/// </remarks>
internal sealed partial class AddressWarningThrottle
{
    /// <summary>Addresses remembered at most.</summary>
    public const int DefaultMaxTrackedAddresses = 1024;

    /// <summary>How long after a logged warning the next ones from the same address are only counted.</summary>
    public static readonly TimeSpan DefaultWindow = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _throttledEventId;
    private readonly TimeSpan _window;
    private readonly int _maxTrackedAddresses;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, LinkedListNode<Entry>> _entries = [];

    // Oldest window first: the order in which windows close, and the eviction order.
    private readonly LinkedList<Entry> _byWindowStart = new();

    /// <summary>The throttle with the defaults (one minute; 1024 addresses).</summary>
    public AddressWarningThrottle(TimeProvider time, ILogger logger, int throttledEventId)
        : this(time, logger, throttledEventId, DefaultWindow, DefaultMaxTrackedAddresses)
    {
    }

    public AddressWarningThrottle(TimeProvider time, ILogger logger, int throttledEventId, TimeSpan window, int maxTrackedAddresses)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTrackedAddresses, 1);
        _time = time;
        _logger = logger;
        _throttledEventId = throttledEventId;
        _window = window;
        _maxTrackedAddresses = maxTrackedAddresses;
    }

    /// <summary>How many addresses are remembered now.</summary>
    public int TrackedAddresses
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Notes an occurrence from <paramref name="remote"/> with <paramref name="reason"/>. True: log it now (the first
    /// from its address in a window, or an address that is not an IP address). False: it was counted for the summary.
    /// </summary>
    public bool ShouldLog(EndPoint? remote, string reason)
    {
        if (AuthFailureLimiter.AddressOf(remote) is not { } address)
        {
            return true;
        }

        List<Summary>? due = null;
        bool first;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            CloseWindows(now, ref due);
            if (_entries.TryGetValue(address, out var node))
            {
                node.Value.Suppressed++;
                node.Value.LastReason = reason;
                first = false;
            }
            else
            {
                while (_entries.Count >= _maxTrackedAddresses && _byWindowStart.First is { } oldest)
                {
                    Forget(oldest, now, ref due);
                }

                _entries.Add(address, _byWindowStart.AddLast(new Entry(address, now)));
                first = true;
            }
        }

        LogSummaries(due);
        return first;
    }

    /// <summary>Logs the summaries of the windows that are over and forgets their addresses (for a periodic tick).</summary>
    public void Flush()
    {
        List<Summary>? due = null;
        lock (_gate)
        {
            CloseWindows(_time.GetTimestamp(), ref due);
        }

        LogSummaries(due);
    }

    /// <summary>Logs the summaries of all windows, over or not, and forgets every address (at shutdown).</summary>
    public void FlushAll()
    {
        List<Summary>? due = null;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            while (_byWindowStart.First is { } oldest)
            {
                Forget(oldest, now, ref due);
            }
        }

        LogSummaries(due);
    }

    /// <summary>Forgets, from the front, the addresses whose window is over; a summary for each that had more.</summary>
    private void CloseWindows(long now, ref List<Summary>? due)
    {
        while (_byWindowStart.First is { } oldest && _time.GetElapsedTime(oldest.Value.WindowStart, now) >= _window)
        {
            Forget(oldest, now, ref due);
        }
    }

    private void Forget(LinkedListNode<Entry> node, long now, ref List<Summary>? due)
    {
        _byWindowStart.Remove(node);
        _entries.Remove(node.Value.Address);
        if (node.Value.Suppressed > 0)
        {
            // Early (evicted, or at shutdown): the part of the window that has passed.
            var elapsed = _time.GetElapsedTime(node.Value.WindowStart, now);
            var span = elapsed < _window ? elapsed : _window;
            (due ??= []).Add(new Summary(node.Value.Address, node.Value.Suppressed, span, node.Value.LastReason ?? string.Empty));
        }
    }

    private void LogSummaries(List<Summary>? due)
    {
        if (due is null)
        {
            return;
        }

        foreach (var summary in due)
        {
            LogSuppressed(_logger, summary.Count, _throttledEventId, summary.Address, Math.Round(summary.Span.TotalSeconds, 1), summary.LastReason);
        }
    }

    private sealed class Entry(IPAddress address, long windowStart)
    {
        public IPAddress Address { get; } = address;

        public long WindowStart { get; } = windowStart;

        /// <summary>Occurrences in the window after the logged one.</summary>
        public long Suppressed { get; set; }

        public string? LastReason { get; set; }
    }

    private readonly record struct Summary(IPAddress Address, long Count, TimeSpan Span, string LastReason);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "{SuppressedCount} more warnings {ThrottledEventId} about connections from {RemoteAddress} within {WindowSeconds} s were only counted, not logged (the last: {Reason})")]
    private static partial void LogSuppressed(ILogger logger, long suppressedCount, int throttledEventId, IPAddress remoteAddress, double windowSeconds, string reason);
}
