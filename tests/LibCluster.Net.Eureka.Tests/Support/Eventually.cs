using System.Diagnostics;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>Waits for a condition with a deadline, instead of sleeping a fixed time.</summary>
internal static class Eventually
{
    // How often the condition is checked; the deadline, not this, bounds the wait.
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(20);

    public static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, string because, Func<string>? context = null)
    {
        var started = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(started) > timeout)
            {
                var detail = context is null ? string.Empty : $" State: {context()}";
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {because}.{detail}");
            }

            await Task.Delay(CheckInterval);
        }
    }
}
