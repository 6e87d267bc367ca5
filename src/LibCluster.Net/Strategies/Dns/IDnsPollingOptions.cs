namespace LibCluster.Strategies.Dns;

/// <summary>The four options the <c>Dns</c> and <c>DnsSrv</c> strategies share, read by <see cref="DnsSettings"/>.</summary>
internal interface IDnsPollingOptions
{
    string? Query { get; }

    string? NodeBasename { get; }

    TimeSpan PollingInterval { get; }

    string? NameServer { get; }
}

/// <summary>What tells the <c>Dns</c> and <c>DnsSrv</c> strategies apart in their settings and messages.</summary>
/// <param name="Strategy">The strategy's registered name, for errors from the constructor (<c>Dns options:Query ...</c>).</param>
/// <param name="Records">The records asked for, in a sentence: <c>A and AAAA</c>, <c>SRV</c>.</param>
/// <param name="RecordTypes">The records asked for, as a query is described: <c>A/AAAA</c>, <c>SRV</c>.</param>
/// <param name="Example">A name to look up, for the error of a missing <c>Query</c>.</param>
internal sealed record DnsLookupKind(string Strategy, string Records, string RecordTypes, string Example);
