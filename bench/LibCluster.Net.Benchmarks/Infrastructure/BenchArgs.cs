using System.Globalization;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>
/// <c>--name value</c> and <c>--flag</c> options after the measure's name. Every option a measure reads is marked used;
/// <see cref="ThrowIfUnused"/> then rejects the rest, so a misspelt option fails instead of being silently ignored.
/// </summary>
internal sealed class BenchArgs
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    public BenchArgs(IEnumerable<string> args)
    {
        string? pending = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (pending is not null)
                {
                    _values[pending] = null;
                }

                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    _values[arg[2..eq]] = arg[(eq + 1)..];
                    pending = null;
                }
                else
                {
                    pending = arg[2..];
                }
            }
            else if (pending is not null)
            {
                _values[pending] = arg;
                pending = null;
            }
            else
            {
                throw new BenchUsageException($"unexpected argument '{arg}' (options are --name value)");
            }
        }

        if (pending is not null)
        {
            _values[pending] = null;
        }
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (!_values.TryGetValue(name, out var value))
        {
            return false;
        }

        return value is null || bool.Parse(value);
    }

    public string? String(string name)
    {
        _used.Add(name);
        return _values.TryGetValue(name, out var value) ? value : null;
    }

    public string String(string name, string fallback) => String(name) ?? fallback;

    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var text = String(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text.Replace("_", string.Empty, StringComparison.Ordinal).Replace(",", string.Empty, StringComparison.Ordinal), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            throw new BenchUsageException($"--{name} '{text}' is not a whole number");
        }

        if (value < min || value > max)
        {
            throw new BenchUsageException($"--{name} {value} is out of range ({min} to {max})");
        }

        return value;
    }

    public void ThrowIfUnused()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToArray();
        if (unknown.Length > 0)
        {
            throw new BenchUsageException($"unknown option(s) for this measure: {string.Join(", ", unknown.Select(k => "--" + k))}");
        }
    }
}

/// <summary>A mistake on the command line: printed with the usage, exit code 64.</summary>
internal sealed class BenchUsageException(string message) : Exception(message);

/// <summary>A measure that could not produce a valid figure (lost messages, a node that never came up...): exit code 1.</summary>
internal sealed class BenchFailedException(string message) : Exception(message);
