using System.Diagnostics.CodeAnalysis;

namespace LibCluster.Nodes;

/// <summary>
/// The name of a node, <c>basename@host</c> in the Erlang style (for example <c>app0@10.255.7.12</c>).
/// Names compare ordinally; the ordering decides which connection survives a simultaneous connect.
/// </summary>
public readonly struct NodeName : IEquatable<NodeName>, IComparable<NodeName>
{
    /// <summary>The longest name accepted, in UTF-8 bytes; it has to fit in a handshake frame.</summary>
    public const int MaxLength = 255;

    private readonly string? _value;
    private readonly int _at;

    private NodeName(string value, int at)
    {
        _value = value;
        _at = at;
    }

    /// <summary>The full name, <c>basename@host</c>.</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>The part before the <c>@</c>.</summary>
    public string Basename => _value is null ? string.Empty : _value[.._at];

    /// <summary>The part after the <c>@</c>: the host (IP address or DNS name) the node is dialled at by default.</summary>
    public string Host => _value is null ? string.Empty : _value[(_at + 1)..];

    /// <summary>True for <c>default(NodeName)</c>, which names no node.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>Parses a node name, throwing <see cref="FormatException"/> with the reason when it is not valid.</summary>
    public static NodeName Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out var name, out var error) ? name : throw new FormatException(error);
    }

    /// <summary>Parses a node name.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out NodeName name) => TryParse(value, out name, out _);

    /// <summary>Parses a node name, giving the reason when it is not valid.</summary>
    public static bool TryParse([NotNullWhen(true)] string? value, out NodeName name, [NotNullWhen(false)] out string? error)
    {
        name = default;
        if (string.IsNullOrEmpty(value))
        {
            error = "A node name must not be empty; expected 'basename@host'.";
            return false;
        }

        if (System.Text.Encoding.UTF8.GetByteCount(value) > MaxLength)
        {
            error = $"The node name '{value}' is longer than {MaxLength} bytes.";
            return false;
        }

        var at = value.IndexOf('@');
        if (at <= 0 || at == value.Length - 1 || value.IndexOf('@', at + 1) >= 0)
        {
            error = $"The node name '{value}' is not of the form 'basename@host'.";
            return false;
        }

        for (var i = 0; i < at; i++)
        {
            var c = value[i];
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
            {
                error = $"The node name '{value}' has '{c}' in its basename; use letters, digits, '_', '-' and '.'.";
                return false;
            }
        }

        for (var i = at + 1; i < value.Length; i++)
        {
            var c = value[i];
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or ':' or '%'))
            {
                error = $"The node name '{value}' has '{c}' in its host; use a DNS name or an IP address.";
                return false;
            }
        }

        if (!IsValidHost(value.AsSpan(at + 1)))
        {
            error = $"The node name '{value}' does not end in a valid host: use a DNS name, an IPv4 address or an IPv6 address (a port belongs in a node address, not in the name).";
            return false;
        }

        name = new NodeName(value, at);
        error = null;
        return true;
    }

    private static bool IsValidHost(ReadOnlySpan<char> host)
    {
        if (host.Contains(':'))
        {
            // Only an IPv6 literal has colons (with an optional %scope).
            return System.Net.IPAddress.TryParse(host, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
        }

        // IPv4 literals are DNS-shaped too: dot-separated labels of letters, digits, '-' and '_'.
        if (host.Length is 0 or > 253 || host[^1] == '.' && host.Length == 1)
        {
            return false;
        }

        foreach (var range in host.TrimEnd('.').Split('.'))
        {
            var label = host.TrimEnd('.')[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>Makes <c>basename@host</c> from its parts.</summary>
    public static NodeName From(string basename, string host) => Parse($"{basename}@{host}");

    /// <inheritdoc/>
    public bool Equals(NodeName other) => string.Equals(_value, other._value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is NodeName other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => _value is null ? 0 : StringComparer.Ordinal.GetHashCode(_value);

    /// <inheritdoc/>
    public int CompareTo(NodeName other) => string.CompareOrdinal(_value, other._value);

    /// <inheritdoc/>
    public override string ToString() => Value;

    /// <summary>Equality.</summary>
    public static bool operator ==(NodeName left, NodeName right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(NodeName left, NodeName right) => !left.Equals(right);

    /// <summary>Ordinal ordering.</summary>
    public static bool operator <(NodeName left, NodeName right) => left.CompareTo(right) < 0;

    /// <summary>Ordinal ordering.</summary>
    public static bool operator >(NodeName left, NodeName right) => left.CompareTo(right) > 0;

    /// <summary>Ordinal ordering.</summary>
    public static bool operator <=(NodeName left, NodeName right) => left.CompareTo(right) <= 0;

    /// <summary>Ordinal ordering.</summary>
    public static bool operator >=(NodeName left, NodeName right) => left.CompareTo(right) >= 0;
}
