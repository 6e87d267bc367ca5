using System.Diagnostics;

namespace LibCluster.Tests.Topology;

/// <summary>Waits for conditions with a deadline, never for a fixed time.</summary>
internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > Timeout)
            {
                throw new TimeoutException($"Waited {Timeout.TotalSeconds:0} s for this, in vain: {what}.");
            }

            // Polls the condition; the short real-time pause lets the runtime's thread-pool work run.
            await Task.Delay(1);
        }
    }

    public static Task WithTimeout(this Task task) => task.WaitAsync(Timeout);

    public static Task<T> WithTimeout<T>(this Task<T> task) => task.WaitAsync(Timeout);

    public static Task WithTimeout(this ValueTask task) => task.AsTask().WaitAsync(Timeout);

    public static Task<T> WithTimeout<T>(this ValueTask<T> task) => task.AsTask().WaitAsync(Timeout);
}
