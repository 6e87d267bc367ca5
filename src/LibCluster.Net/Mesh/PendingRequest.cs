using System.Collections.Concurrent;
using System.Threading.Tasks.Sources;

namespace LibCluster.Mesh;

/// <summary>
/// A request waiting for its reply, completed once by whichever comes first: the reply, its timeout, the caller's
/// cancellation, a failed send or the connection's close. Pooled with its timer, so a round trip allocates neither
/// a task, nor a timer, nor a token source. The requester resumes on the thread pool, never on the connection's
/// read loop: code after an await must not be able to stall a connection by blocking its thread.
/// </summary>
internal sealed class PendingRequest : IValueTaskSource<ReplyResult>
{
    private const int PoolSize = 256;

    // Timers take at most about 49 days; a longer timeout is as good as none.
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromDays(45);
    private static readonly ConcurrentQueue<PendingRequest> s_pool = new();
    private static int s_pooled;

    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private ManualResetValueTaskSourceCore<ReplyResult> _core = new() { RunContinuationsAsynchronously = true };
    private PeerConnection? _owner;
    private CancellationTokenRegistration _cancellation;
    private CancellationToken _token;
    private long _deadline = long.MaxValue;
    private int _completed;

    private PendingRequest(TimeProvider time)
    {
        _time = time;
        _timer = time.CreateTimer(static state => ((PendingRequest)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public ulong Id { get; private set; }

    /// <summary>A request object for <paramref name="time"/>'s clock, from the pool when one is free.</summary>
    public static PendingRequest Rent(TimeProvider time)
    {
        while (s_pool.TryDequeue(out var pooled))
        {
            Interlocked.Decrement(ref s_pooled);
            if (ReferenceEquals(pooled._time, time))
            {
                return pooled;
            }

            // Made for another clock (a test's): not reusable here.
            pooled._timer.Dispose();
        }

        return new PendingRequest(time);
    }

    /// <summary>
    /// Enters the request in <paramref name="owner"/>'s table (where its reply and the connection's close find it)
    /// and arms its timeout and cancellation; the returned task is what the requester awaits.
    /// </summary>
    public ValueTask<ReplyResult> Start(PeerConnection owner, ulong id, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _owner = owner;
        Id = id;
        _token = cancellationToken;
        Volatile.Write(ref _completed, 0);
        var task = new ValueTask<ReplyResult>(this, _core.Version);
        owner.TrackRequest(id, this);
        if (timeout < MaxTimeout)
        {
            Volatile.Write(ref _deadline, _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency));
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }

        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static (state, token) => ((PendingRequest)state!).OnCancelled(token), this);
        }

        return task;
    }

    public bool TrySetResult(ReplyResult result)
    {
        if (!TryClaim())
        {
            return false;
        }

        _core.SetResult(result);
        return true;
    }

    public bool TrySetException(Exception exception)
    {
        if (!TryClaim())
        {
            return false;
        }

        _core.SetException(exception);
        return true;
    }

    /// <summary>Only the first outcome counts; it also takes the request out of its connection's table.</summary>
    private bool TryClaim()
    {
        if (Interlocked.Exchange(ref _completed, 1) != 0)
        {
            return false;
        }

        Volatile.Write(ref _deadline, long.MaxValue);
        _owner?.ForgetRequest(Id);
        return true;
    }

    // A timer callback may run late, even after the object was reused: only a deadline that has really passed counts.
    // It may also run a little early (timers and timestamps are different clocks): then it waits for the rest.
    private void OnTimer()
    {
        var deadline = Volatile.Read(ref _deadline);
        if (deadline == long.MaxValue)
        {
            return;
        }

        var now = _time.GetTimestamp();
        if (now >= deadline)
        {
            TrySetException(new TimeoutException());
            return;
        }

        var rest = TimeSpan.FromSeconds((double)(deadline - now) / _time.TimestampFrequency);
        _timer.Change(rest > TimeSpan.FromMilliseconds(1) ? rest : TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
    }

    // A registration is disposed before reuse; the token check guards the moment in between.
    private void OnCancelled(CancellationToken token)
    {
        if (token == _token)
        {
            TrySetException(new OperationCanceledException(token));
        }
    }

    public ReplyResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            Recycle();
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    private void Recycle()
    {
        _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _cancellation.Dispose();
        _cancellation = default;
        _token = default;
        _owner = null;
        _core.Reset();
        if (Interlocked.Increment(ref s_pooled) <= PoolSize)
        {
            s_pool.Enqueue(this);
        }
        else
        {
            Interlocked.Decrement(ref s_pooled);
            _timer.Dispose();
        }
    }
}
