namespace LibCluster.Strategies.Gossip;

/// <summary>
/// Keeps bad packets, socket errors and chatty peers from flooding the log: per kind (a drop reason, "send", ...),
/// at most <c>allowance</c> occurrences per interval (one minute) are logged at their normal level; the others go to
/// Debug, and the next normal-level line says how many there were. Thread-safe.
/// </summary>
internal sealed class GossipWarnings(TimeProvider time, TimeSpan interval)
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    /// <summary>
    /// True when this occurrence of <paramref name="kind"/> should be logged at its normal level;
    /// <paramref name="suppressed"/> counts those sent to Debug since the last normal-level one.
    /// </summary>
    public bool ShouldWarn(string kind, out long suppressed, int allowance = 1)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (!_states.TryGetValue(kind, out var state))
            {
                // Kinds are a handful of constants, so this dictionary stays small.
                state = new State { WindowStart = now };
                _states.Add(kind, state);
            }
            else if (time.GetElapsedTime(state.WindowStart, now) >= interval)
            {
                state.WindowStart = now;
                state.Logged = 0;
            }

            if (state.Logged < allowance)
            {
                state.Logged++;
                suppressed = state.Suppressed;
                state.Suppressed = 0;
                return true;
            }

            state.Suppressed++;
            suppressed = state.Suppressed;
            return false;
        }
    }

    private sealed class State
    {
        public long WindowStart { get; set; }

        public int Logged { get; set; }

        public long Suppressed { get; set; }
    }
}
