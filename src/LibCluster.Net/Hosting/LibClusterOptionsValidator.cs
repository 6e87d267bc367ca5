using System.Net;
using LibCluster.Nodes;
using Microsoft.Extensions.Options;

namespace LibCluster.Hosting;

/// <summary>Checks the whole <c>LibCluster</c> section when the host starts; every error names its config key.</summary>
internal sealed class LibClusterOptionsValidator(IEnumerable<StrategyRegistration> strategies) : IValidateOptions<LibClusterOptions>
{
    private const string Node = "LibCluster:Node";

    public ValidateOptionsResult Validate(string? name, LibClusterOptions options)
    {
        var errors = new List<string>();
        ValidateNode(options.Node, errors);
        ValidateTopologies(options, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateNode(NodeOptions node, List<string> errors)
    {
        if (string.IsNullOrEmpty(node.Cookie))
        {
            errors.Add($"{Node}:Cookie is required: set it to the same long random secret on every node, for example with the environment variable LibCluster__Node__Cookie.");
        }
        else if (node.Cookie.Length < NodeOptions.MinCookieLength)
        {
            errors.Add($"{Node}:Cookie is too short ({node.Cookie.Length} characters): use at least {NodeOptions.MinCookieLength} random characters.");
        }

        for (var i = 0; i < node.AcceptedCookies.Count; i++)
        {
            var accepted = node.AcceptedCookies[i];
            if (string.IsNullOrEmpty(accepted) || accepted.Length < NodeOptions.MinCookieLength)
            {
                errors.Add($"{Node}:AcceptedCookies:{i} is too short ({accepted?.Length ?? 0} characters): use at least {NodeOptions.MinCookieLength} random characters.");
            }
        }

        if (!string.IsNullOrWhiteSpace(node.Name))
        {
            if (!NodeName.TryParse(node.Name.Trim(), out _, out var error))
            {
                errors.Add($"{Node}:Name is not valid: {error}");
            }
        }
        else if (!NodeName.TryParse($"{node.Basename}@x", out _, out var error))
        {
            errors.Add($"{Node}:Basename '{node.Basename}' is not valid: {error}");
        }

        if (!IPAddress.TryParse(node.ListenAddress, out _))
        {
            errors.Add($"{Node}:ListenAddress '{node.ListenAddress}' is not an IP address (use 0.0.0.0 for every IPv4 address, :: for IPv6 and IPv4).");
        }

        if (node.Port is < 0 or > 65535)
        {
            errors.Add($"{Node}:Port {node.Port} is not a TCP port (0 to 65535).");
        }

        if (node.TickTime < TimeSpan.FromMilliseconds(100))
        {
            errors.Add($"{Node}:TickTime {node.TickTime} is too short: use at least 00:00:00.1 (the default is 00:00:15).");
        }

        else if (node.TickTime > TimeSpan.FromHours(1))
        {
            errors.Add($"{Node}:TickTime {node.TickTime} is longer than an hour; note that a bare number means days: write 00:00:15 for 15 seconds.");
        }

        CheckTimeout(node.HandshakeTimeout, "HandshakeTimeout", errors);
        CheckTimeout(node.ConnectTimeout, "ConnectTimeout", errors);

        if (node.MaxFrameBytes is < 1024 or > 1024 * 1024 * 1024)
        {
            errors.Add($"{Node}:MaxFrameBytes {node.MaxFrameBytes} is out of range (1024 to 1073741824).");
        }

        if (node.MaxPendingHandshakes < 1)
        {
            errors.Add($"{Node}:MaxPendingHandshakes must be at least 1.");
        }

        if (node.MaxBufferedBytesPerConnection < 4096)
        {
            errors.Add($"{Node}:MaxBufferedBytesPerConnection must be at least 4096.");
        }

        if (node.MailboxCapacity < 1)
        {
            errors.Add($"{Node}:MailboxCapacity must be at least 1.");
        }

        if (node.MailboxCapacityBytes < 1)
        {
            errors.Add($"{Node}:MailboxCapacityBytes must be at least 1.");
        }

        if (node.Tls.Enabled)
        {
            try
            {
                _ = TlsLoader.Load(node.Tls);
            }
            catch (Exception ex) when (ex is ClusterException)
            {
                errors.Add(ex.Message);
            }
        }
    }

    private static void CheckTimeout(TimeSpan value, string key, List<string> errors)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{Node}:{key} must be positive.");
        }
        else if (value > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{Node}:{key} {value} is longer than 5 minutes; note that a bare number means days: write 00:00:05 for 5 seconds.");
        }
    }

    private void ValidateTopologies(LibClusterOptions options, List<string> errors)
    {
        var known = strategies.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        var knownNames = string.Join(", ", known.Keys.Order(StringComparer.OrdinalIgnoreCase));
        foreach (var (topologyName, topology) in options.Topologies)
        {
            var path = $"LibCluster:Topologies:{topologyName}";
            if (!topology.Enabled)
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(topology.Strategy))
            {
                errors.Add($"{path}:Strategy is required; known strategies: {knownNames}.");
                continue;
            }

            if (!known.TryGetValue(topology.Strategy, out var registration))
            {
                errors.Add($"{path}:Strategy '{topology.Strategy}' is not a known strategy; known strategies: {knownNames}. (A strategy from another package is added with its Add* method on the LibCluster builder.)");
                continue;
            }

            errors.AddRange(registration.Validate(topology, $"{path}:Config"));
        }
    }
}
