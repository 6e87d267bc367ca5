namespace LibCluster.Strategies.Dns;

/// <summary>Defaults and limits of the <c>Dns</c> and <c>DnsSrv</c> strategies.</summary>
internal static class DnsConstants
{
    /// <summary>The default time between two lookups (libcluster's <c>polling_interval</c> of 5000 ms).</summary>
    public static readonly TimeSpan DefaultPollingInterval = TimeSpan.FromSeconds(5);

    /// <summary>The longest polling interval accepted; more is almost surely a bare number read as days.</summary>
    public static readonly TimeSpan MaxPollingInterval = TimeSpan.FromHours(1);

    /// <summary>The shortest time one query waits for an answer.</summary>
    public static readonly TimeSpan MinQueryTimeout = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest time one query waits for an answer.</summary>
    public static readonly TimeSpan MaxQueryTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How many times a query that timed out is sent again to the same server.</summary>
    public const int QueryRetries = 1;

    /// <summary>The port of a name server given without one.</summary>
    public const int DefaultNameServerPort = 53;

    /// <summary>
    /// How long one query waits: the polling interval, kept between <see cref="MinQueryTimeout"/> and
    /// <see cref="MaxQueryTimeout"/>. An answer older than the next poll is of no use, and a stopped server must not
    /// hold a poll up for long.
    /// </summary>
    public static TimeSpan QueryTimeout(TimeSpan pollingInterval) =>
        pollingInterval < MinQueryTimeout ? MinQueryTimeout : pollingInterval > MaxQueryTimeout ? MaxQueryTimeout : pollingInterval;
}
