using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace LibCluster.Nodes;

/// <summary>Where to dial a node: its name, and the host and port its listener is reached at.</summary>
/// <param name="Name">The node's name.</param>
/// <param name="Host">The host to dial: an IP address or a DNS name.</param>
/// <param name="Port">The node's listening port.</param>
public sealed record NodeAddress(NodeName Name, string Host, int Port)
{
    /// <summary>An address that dials the host in the node's name.</summary>
    public NodeAddress(NodeName name, int port)
        : this(name, name.Host, port)
    {
    }

    /// <summary>
    /// Parses <c>name@host</c> or <c>name@host:port</c> (IPv6 hosts in brackets: <c>name@[::1]:9001</c>);
    /// without a port the node is dialled at <paramref name="defaultPort"/>.
    /// </summary>
    public static NodeAddress Parse(string value, int defaultPort)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, defaultPort, out var address, out var error) ? address : throw new FormatException(error);
    }

    /// <summary>Parses <c>name@host[:port]</c>, giving the reason when it is not valid.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, int defaultPort, [NotNullWhen(true)] out NodeAddress? address, [NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            error = "A node address must not be empty; expected 'basename@host' or 'basename@host:port'.";
            return false;
        }

        value = value.Trim();
        var nameText = value;
        var port = defaultPort;
        var at = value.IndexOf('@');
        if (at > 0)
        {
            var host = value[(at + 1)..];
            if (host.StartsWith('['))
            {
                // [v6]:port or [v6]
                var close = host.IndexOf(']');
                if (close < 0)
                {
                    error = $"The node address '{value}' has an unclosed '[' in its host.";
                    return false;
                }

                var rest = host[(close + 1)..];
                if (rest.Length > 0 && !(rest[0] == ':' && TryParsePort(rest[1..], out port)))
                {
                    error = $"The node address '{value}' has a bad port after ']'; expected a number from 1 to 65535.";
                    return false;
                }

                nameText = value[..at] + "@" + host[1..close];
            }
            else if (host.Count(c => c == ':') == 1)
            {
                // host:port (more than one ':' is a bare IPv6 literal with no port)
                var colon = host.IndexOf(':');
                if (!TryParsePort(host[(colon + 1)..], out port))
                {
                    error = $"The node address '{value}' has a bad port; expected a number from 1 to 65535.";
                    return false;
                }

                nameText = value[..at] + "@" + host[..colon];
            }
        }

        if (!NodeName.TryParse(nameText, out var name, out error))
        {
            return false;
        }

        if (port is < 1 or > 65535)
        {
            error = $"The node address '{value}' has no valid port (got {port}).";
            return false;
        }

        address = new NodeAddress(name, port);
        return true;
    }

    private static bool TryParsePort(string text, out int port) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;

    /// <inheritdoc/>
    public override string ToString() => Host.Contains(':') ? $"{Name} at [{Host}]:{Port}" : $"{Name} at {Host}:{Port}";
}
