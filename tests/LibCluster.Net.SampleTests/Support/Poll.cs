using System.Diagnostics;

namespace LibCluster.SampleTests.Support;

/// <summary>Waits for an asynchronous condition (an HTTP answer, say) with a deadline, instead of sleeping a fixed time.</summary>
internal static class Poll
{
    private static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(100);

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string because, Func<string>? context = null)
    {
        var started = Stopwatch.GetTimestamp();
        while (!await condition())
        {
            if (Stopwatch.GetElapsedTime(started) > timeout)
            {
                var detail = context is null ? string.Empty : $"\nState: {context()}";
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0} s waiting until {because}.{detail}");
            }

            await Task.Delay(CheckInterval);
        }
    }
}
