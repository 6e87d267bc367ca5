namespace LibCluster.IntegrationTests.Support;

/// <summary>Waits for a condition with a deadline, instead of sleeping a fixed time.</summary>
internal static class Eventually
{
    // How often the condition is checked; the deadline, not this, bounds the wait.
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    public static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out after {timeout.TotalSeconds:0.#} s waiting until {because}.");
            }

            await Task.Delay(PollInterval);
        }
    }
}
