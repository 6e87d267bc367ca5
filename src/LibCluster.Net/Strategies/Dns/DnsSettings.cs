using System.Globalization;
using System.Net;
using LibCluster.Nodes;

namespace LibCluster.Strategies.Dns;

/// <summary>The checked settings of one <c>Dns</c> or <c>DnsSrv</c> topology, shared by both strategies.</summary>
internal sealed record DnsSettings
{
    /// <summary>The name to look up, trimmed, without a trailing dot.</summary>
    public required string Query { get; init; }

    /// <summary>The basename of the nodes' names; null means this node's basename.</summary>
    public string? NodeBasename { get; init; }

    public required TimeSpan PollingInterval { get; init; }

    /// <summary>The server to ask; null means the system's name servers.</summary>
    public IPEndPoint? NameServer { get; init; }

    /// <summary>How long one query waits for an answer (see <see cref="DnsConstants.QueryTimeout"/>).</summary>
    public TimeSpan QueryTimeout => DnsConstants.QueryTimeout(PollingInterval);

    /// <summary>Where a query goes, for the resolver.</summary>
    public DnsQuery ToQuery() => new(Query, NameServer, QueryTimeout);

    /// <summary>
    /// Checks the four options; each error names its key under <paramref name="configPath"/> and says what
    /// <paramref name="kind"/> asks for.
    /// </summary>
    /// <returns>The errors; empty when the options are valid.</returns>
    public static List<string> Validate(IDnsPollingOptions options, string configPath, DnsLookupKind kind)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configPath);
        ArgumentNullException.ThrowIfNull(kind);
        var query = options.Query;
        var nodeBasename = options.NodeBasename;
        var pollingInterval = options.PollingInterval;
        var nameServer = options.NameServer;
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(query))
        {
            errors.Add($"{configPath}:Query is required: the fully qualified DNS name whose {kind.Records} records list the nodes, for example {kind.Example}.");
        }
        else if (!IsDnsName(query.Trim(), out var reason))
        {
            errors.Add($"{configPath}:Query '{query}' is not a DNS name: {reason}");
        }

        if (!string.IsNullOrWhiteSpace(nodeBasename) && !NodeName.TryParse($"{nodeBasename.Trim()}@x", out _, out _))
        {
            errors.Add($"{configPath}:NodeBasename '{nodeBasename}' is not a valid basename: use ASCII letters, digits, '_', '-' and '.' (the part before the '@' of a node name).");
        }

        if (pollingInterval <= TimeSpan.Zero)
        {
            errors.Add($"{configPath}:PollingInterval {pollingInterval} must be positive (the default is 00:00:05).");
        }
        else if (pollingInterval > DnsConstants.MaxPollingInterval)
        {
            errors.Add($"{configPath}:PollingInterval {pollingInterval} is longer than an hour; note that a bare number means days: write 00:00:05 for 5 seconds.");
        }

        if (!string.IsNullOrWhiteSpace(nameServer) && !TryParseNameServer(nameServer, out _))
        {
            errors.Add($"{configPath}:NameServer '{nameServer}' is not an IP address with an optional port: write for example 10.96.0.10, 10.96.0.10:53 or [fd00::10]:53.");
        }

        return errors;
    }

    /// <summary>
    /// Makes the settings, throwing <see cref="ArgumentException"/> with every problem when the options are not valid
    /// (keys named under <c>{Strategy} options</c>, as there is no configuration path here).
    /// </summary>
    public static DnsSettings Create(IDnsPollingOptions options, DnsLookupKind kind)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(kind);
        var errors = Validate(options, $"{kind.Strategy} options", kind);
        if (errors.Count > 0 || !TryParseNameServer(options.NameServer, out var endpoint))
        {
            throw new ArgumentException(string.Join(" ", errors));
        }

        return new DnsSettings
        {
            Query = options.Query!.Trim().TrimEnd('.'),
            NodeBasename = string.IsNullOrWhiteSpace(options.NodeBasename) ? null : options.NodeBasename.Trim(),
            PollingInterval = options.PollingInterval,
            NameServer = endpoint,
        };
    }

    /// <summary>Parses <c>ip</c>, <c>ip:port</c> or <c>[ipv6]:port</c>; an empty value is the system's servers (null).</summary>
    public static bool TryParseNameServer(string? text, out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        text = text.Trim();

        // IPEndPoint.TryParse also takes a bare number as an IPv4 address ("53" is 0.0.0.53); insist on an address.
        if (!IPEndPoint.TryParse(text, out var parsed) || !LooksLikeAddress(text))
        {
            return false;
        }

        var hasPort = text.StartsWith('[') ? text.Contains("]:", StringComparison.Ordinal) : text.Count(c => c == ':') == 1;
        if (hasPort && parsed.Port == 0)
        {
            return false;
        }

        endpoint = hasPort ? parsed : new IPEndPoint(parsed.Address, DnsConstants.DefaultNameServerPort);
        return true;
    }

    private static bool LooksLikeAddress(string text)
    {
        if (text.StartsWith('['))
        {
            return true;
        }

        // An IPv4 address has its four parts written out; an IPv6 one has colons.
        var host = text.Count(c => c == ':') == 1 ? text[..text.IndexOf(':', StringComparison.Ordinal)] : text;
        return host.Contains(':', StringComparison.Ordinal) || host.Split('.').Length == 4 && host.Split('.').All(p => byte.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _));
    }

    private static bool IsDnsName(string name, out string reason)
    {
        var trimmed = name.EndsWith('.') ? name[..^1] : name;
        if (trimmed.Length is 0 or > 253)
        {
            reason = "it must have 1 to 253 characters.";
            return false;
        }

        foreach (var label in trimmed.Split('.'))
        {
            if (label.Length is 0 or > 63)
            {
                reason = "each dot-separated label must have 1 to 63 characters.";
                return false;
            }

            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    reason = $"it has '{c}'; use ASCII letters, digits, '-' and '_' (internationalised names in their xn-- form).";
                    return false;
                }
            }
        }

        reason = string.Empty;
        return true;
    }
}
