using System.Diagnostics;

namespace LibCluster.Testing;

/// <summary>
/// Waits for a condition with a deadline, instead of sleeping a fixed time. The one wait helper of every test project:
/// this file is linked into each (<c>&lt;Compile Include="..\Shared\Eventually.cs" Link="Support\Eventually.cs" /&gt;</c>,
/// with <c>&lt;Using Include="LibCluster.Testing" /&gt;</c>).
/// </summary>
/// <remarks>
/// A check that throws counts as not yet true, like one that returns false. When the deadline passes, the
/// <see cref="TimeoutException"/> says what was awaited, for how long and how many checks, how the last check failed
/// (its exception is the inner exception) and, if a <c>state</c> function is given, the state at that moment.
/// </remarks>
internal static class Eventually
{
    /// <summary>The deadline of the waits that name none; only a failing test ever waits that long.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // Poll intervals: the deadline, not these, bounds a wait. The first re-check comes after a millisecond (a unit
    // test's condition usually needs only a continuation to run on the thread pool), then the interval doubles up
    // to a cap, so that a long wait does not spin on two cores.
    private static readonly TimeSpan FirstPollInterval = TimeSpan.FromMilliseconds(1);

    // The cap for a condition that reads memory: cheap to check.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    // The cap for an asynchronous condition, which does I/O (an HTTP request, a DNS query, a process run).
    private static readonly TimeSpan IoPollInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Waits up to <see cref="Timeout"/> until <paramref name="condition"/> is true.</summary>
    /// <param name="because">What is awaited, worded to follow "waiting until".</param>
    /// <param name="state">Describes the state when the deadline passes (called only then).</param>
    public static Task TrueAsync(Func<bool> condition, string because, Func<string>? state = null) =>
        TrueAsync(condition, Timeout, because, state);

    /// <summary>Waits up to <paramref name="timeout"/> until <paramref name="condition"/> is true.</summary>
    /// <param name="because">What is awaited, worded to follow "waiting until".</param>
    /// <param name="state">Describes the state when the deadline passes (called only then).</param>
    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string because, Func<string>? state = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WaitAsync(() => new ValueTask<bool>(condition()), PollInterval, timeout, because, state);
    }

    /// <summary>Waits up to <paramref name="timeout"/> until the asynchronous <paramref name="condition"/> (an HTTP answer, say) is true.</summary>
    /// <param name="because">What is awaited, worded to follow "waiting until".</param>
    /// <param name="state">Describes the state when the deadline passes (called only then).</param>
    public static Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string because, Func<string>? state = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return WaitAsync(() => new ValueTask<bool>(condition()), IoPollInterval, timeout, because, state);
    }

    /// <summary>Bounds an await by <see cref="Timeout"/>, so that a hang fails the test instead of stalling the run.</summary>
    public static Task WithTimeout(this Task task) => task.WaitAsync(Timeout);

    public static Task<T> WithTimeout<T>(this Task<T> task) => task.WaitAsync(Timeout);

    public static Task WithTimeout(this ValueTask task) => task.AsTask().WaitAsync(Timeout);

    public static Task<T> WithTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Timeout);

    private static async Task WaitAsync(Func<ValueTask<bool>> condition, TimeSpan pollInterval, TimeSpan timeout, string because, Func<string>? state)
    {
        var started = Stopwatch.GetTimestamp();
        var interval = FirstPollInterval;
        var checks = 0;
        while (true)
        {
            Exception? failure = null;
            checks++;
            try
            {
                if (await condition())
                {
                    return;
                }
            }
#pragma warning disable CA1031 // A check that throws is not yet true; its exception is reported at the deadline.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                failure = ex;
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            if (elapsed >= timeout)
            {
                throw new TimeoutException(Describe(because, timeout, checks, failure, state), failure);
            }

            await Task.Delay(Min(interval, timeout - elapsed));
            interval = Min(interval * 2, pollInterval);
        }
    }

    private static string Describe(string because, TimeSpan timeout, int checks, Exception? failure, Func<string>? state)
    {
        var last = failure is null ? "returned false" : $"threw {failure.GetType().Name}: {failure.Message}";
        var message = $"Timed out after {timeout.TotalSeconds:0.#} s waiting until {because}. The last of {checks} checks {last}.";
        if (state is null)
        {
            return message;
        }

        try
        {
            return $"{message}\nState: {state()}";
        }
#pragma warning disable CA1031 // The timeout is the failure to report; a state that cannot be described must not hide it.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return $"{message}\nState: not described ({ex.GetType().Name}: {ex.Message})";
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
