namespace LibCluster.Topology;

/// <summary>How the topology runtime dials, retries and supervises.</summary>
internal sealed record TopologyRuntimeOptions
{
    /// <summary>The port strategies use for nodes that do not name one (<c>LibCluster:Node:Port</c>).</summary>
    public int DefaultPort { get; init; } = 9001;

    /// <summary>This node's creation, handed to the strategies (0: not known).</summary>
    public uint Creation { get; init; }

    /// <summary>The delay before the first retry of a failed dial; later ones grow exponentially, with jitter.</summary>
    public TimeSpan ReconnectBaseDelay { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest delay between two dials of the same node.</summary>
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How many dials may be in flight at once, across all nodes.</summary>
    public int MaxConcurrentDials { get; init; } = 16;

    /// <summary>The delay before restarting a strategy that failed; later ones grow exponentially, with jitter.</summary>
    public TimeSpan StrategyRestartBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest delay before restarting a failed strategy.</summary>
    public TimeSpan StrategyRestartMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>While dials to a node keep failing, a warning is logged at most this often (the rest go to Debug).</summary>
    public TimeSpan DialFailureWarningInterval { get; init; } = TimeSpan.FromSeconds(30);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(DefaultPort, 1, nameof(DefaultPort));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(DefaultPort, 65535, nameof(DefaultPort));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxConcurrentDials, 1, nameof(MaxConcurrentDials));
        CheckBackoff(ReconnectBaseDelay, ReconnectMaxDelay, nameof(ReconnectBaseDelay), nameof(ReconnectMaxDelay));
        CheckBackoff(StrategyRestartBaseDelay, StrategyRestartMaxDelay, nameof(StrategyRestartBaseDelay), nameof(StrategyRestartMaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(DialFailureWarningInterval, TimeSpan.Zero, nameof(DialFailureWarningInterval));
    }

    private static void CheckBackoff(TimeSpan baseDelay, TimeSpan maxDelay, string baseName, string maxName)
    {
        // Polly accepts base delays from zero to one day; zero would turn the retry into a busy loop.
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(baseDelay, TimeSpan.Zero, baseName);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(baseDelay, TimeSpan.FromDays(1), baseName);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, baseDelay, maxName);
    }
}
