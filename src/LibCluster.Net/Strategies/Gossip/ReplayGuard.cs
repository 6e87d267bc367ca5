namespace LibCluster.Strategies.Gossip;

/// <summary>The verdict on a sealed heartbeat's time stamp and nonce.</summary>
internal enum ReplayVerdict
{
    Fresh,

    /// <summary>The time stamp is further than the window from this node's clock.</summary>
    Stale,

    /// <summary>The nonce was seen before within the window (or may have been: see <see cref="ReplayGuard"/>).</summary>
    Replayed,
}

/// <summary>
/// Rejects sealed heartbeats whose time stamp is outside ±window of this node's clock, and heartbeats whose nonce was
/// already accepted within that window. Memory is bounded: nonces are forgotten once their time stamp leaves the
/// window (a replay of them is then stale), and when <c>capacity</c> nonces are remembered, the oldest is forgotten and
/// every heartbeat stamped no later than it is refused from then on, so a forgotten nonce can never be replayed.
/// Thread-safe.
/// </summary>
internal sealed class ReplayGuard
{
    private readonly Lock _gate = new();
    private readonly long _windowMs;
    private readonly int _capacity;
    private readonly HashSet<UInt128> _seen = [];
    private readonly PriorityQueue<UInt128, long> _byTimestamp = new();
    private long _floorMs = long.MinValue;

    public ReplayGuard(TimeSpan window, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _windowMs = (long)window.TotalMilliseconds;
        _capacity = capacity;
    }

    /// <summary>How many nonces are remembered now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _seen.Count;
            }
        }
    }

    /// <summary>Checks a heartbeat and, when it is fresh, remembers its nonce.</summary>
    public ReplayVerdict Check(UInt128 nonce, long timestampMs, long nowMs)
    {
        // Written so that no subtraction of a peer-supplied value can overflow.
        if (timestampMs < nowMs - _windowMs || timestampMs > nowMs + _windowMs)
        {
            return ReplayVerdict.Stale;
        }

        lock (_gate)
        {
            var oldest = nowMs - _windowMs;
            while (_byTimestamp.TryPeek(out var old, out var stamp) && stamp < oldest)
            {
                _byTimestamp.Dequeue();
                _seen.Remove(old);
            }

            if (timestampMs <= _floorMs || _seen.Contains(nonce))
            {
                return ReplayVerdict.Replayed;
            }

            if (_seen.Count >= _capacity && _byTimestamp.TryDequeue(out var evicted, out var evictedStamp))
            {
                _seen.Remove(evicted);
                _floorMs = Math.Max(_floorMs, evictedStamp);
            }

            _seen.Add(nonce);
            _byTimestamp.Enqueue(nonce, timestampMs);
            return ReplayVerdict.Fresh;
        }
    }
}
