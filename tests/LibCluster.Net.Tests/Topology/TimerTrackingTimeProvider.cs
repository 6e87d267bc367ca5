using Microsoft.Extensions.Time.Testing;

namespace LibCluster.Tests.Topology;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that knows when its live timers fire, so a test can jump straight to the next
/// one instead of guessing how far a jittered delay reaches.
/// </summary>
internal sealed class TimerTrackingTimeProvider : FakeTimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<TrackedTimer> _timers = [];

    public TimerTrackingTimeProvider()
        : base(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>How many timers will still fire.</summary>
    public int PendingTimerCount
    {
        get
        {
            var now = GetUtcNow();
            lock (_gate)
            {
                return _timers.Count(t => t.NextFire(now) is not null);
            }
        }
    }

    /// <summary>When the next live timer fires, or null when none will.</summary>
    public DateTimeOffset? NextDeadline
    {
        get
        {
            var now = GetUtcNow();
            lock (_gate)
            {
                return _timers.Select(t => t.NextFire(now)).Where(d => d is not null).Min();
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new TrackedTimer(this);
        timer.Set(GetUtcNow(), dueTime, period);
        lock (_gate)
        {
            _timers.Add(timer);
        }

        timer.Inner = base.CreateTimer(callback, state, dueTime, period);
        return timer;
    }

    /// <summary>Waits (up to <see cref="Eventually.Timeout"/>) until a timer is pending, then advances time to it.</summary>
    public async Task<TimeSpan> AdvanceToNextTimerAsync()
    {
        await Eventually.TrueAsync(() => NextDeadline is not null, "a timer is pending");
        var step = NextDeadline!.Value - GetUtcNow();
        Advance(step);
        return step;
    }

    private void Remove(TrackedTimer timer)
    {
        lock (_gate)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class TrackedTimer(TimerTrackingTimeProvider owner) : ITimer
    {
        private DateTimeOffset? _deadline;
        private TimeSpan _period;

        public ITimer? Inner { get; set; }

        public void Set(DateTimeOffset now, TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._gate)
            {
                _deadline = dueTime == Timeout.InfiniteTimeSpan ? null : now + dueTime;
                _period = period;
            }
        }

        // Caller holds owner._gate.
        public DateTimeOffset? NextFire(DateTimeOffset now)
        {
            if (_deadline is not { } deadline)
            {
                return null;
            }

            if (deadline > now)
            {
                return deadline;
            }

            if (_period <= TimeSpan.Zero)
            {
                return null;
            }

            var periods = ((now - deadline).Ticks / _period.Ticks) + 1;
            return deadline + (_period * periods);
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Set(owner.GetUtcNow(), dueTime, period);
            return Inner!.Change(dueTime, period);
        }

        public void Dispose()
        {
            owner.Remove(this);
            Inner?.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return default;
        }
    }
}
