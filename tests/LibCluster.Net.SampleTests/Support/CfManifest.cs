using System.Text.RegularExpressions;

namespace LibCluster.SampleTests.Support;

/// <summary>
/// The one application of a manifest in samples/MyClusteredApp (manifest.yml, manifest-internal-route.yml), read with
/// just enough YAML for those files: top-level keys of the application, and under them a list (<c>- item</c>) or a map
/// (<c>key: value</c>). Comments start a line.
/// </summary>
internal sealed partial class CfManifest
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _lists = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<string, string>> _maps = new(StringComparer.Ordinal);

    public string Value(string key) => _values.TryGetValue(key, out var value) ? value : throw new KeyNotFoundException($"The manifest has no '{key}'.");

    public IReadOnlyList<string> List(string key) => _lists.TryGetValue(key, out var list) ? list : [];

    public IReadOnlyDictionary<string, string> Map(string key) => _maps.TryGetValue(key, out var map) ? map : new Dictionary<string, string>();

    /// <summary>The memory limit in MiB (<c>256M</c>, <c>1G</c>).</summary>
    public int MemoryMegabytes
    {
        get
        {
            var text = Value("memory");
            var number = int.Parse(text[..^1], System.Globalization.CultureInfo.InvariantCulture);
            return char.ToUpperInvariant(text[^1]) switch
            {
                'M' => number,
                'G' => number * 1024,
                _ => throw new FormatException($"The manifest's memory '{text}' is not in M or G."),
            };
        }
    }

    /// <summary>Reads samples/MyClusteredApp/<paramref name="fileName"/>.</summary>
    public static CfManifest Load(string fileName)
    {
        var manifest = new CfManifest();
        string? block = null;
        foreach (var raw in File.ReadAllLines(Repository.File("samples", "MyClusteredApp", fileName)))
        {
            if (raw.TrimStart().StartsWith('#') || raw.Trim().Length == 0 || raw.StartsWith("applications:", StringComparison.Ordinal) || raw == "---")
            {
                continue;
            }

            if (AppKey().Match(raw) is { Success: true } key)
            {
                var name = key.Groups["key"].Value;
                var value = Unquote(key.Groups["value"].Value);
                if (value.Length == 0)
                {
                    block = name;
                }
                else
                {
                    block = null;
                    manifest._values[name] = value;
                }
            }
            else if (block is not null && ListItem().Match(raw) is { Success: true } item)
            {
                manifest._lists.TryAdd(block, []);
                manifest._lists[block].Add(Unquote(item.Groups["value"].Value));
            }
            else if (block is not null && MapEntry().Match(raw) is { Success: true } entry)
            {
                manifest._maps.TryAdd(block, new Dictionary<string, string>(StringComparer.Ordinal));
                manifest._maps[block][entry.Groups["key"].Value] = Unquote(entry.Groups["value"].Value);
            }
            else
            {
                throw new FormatException($"{fileName}: cannot read the line '{raw}'.");
            }
        }

        return manifest;
    }

    private static string Unquote(string value)
    {
        value = value.Trim();
        return value.Length >= 2 && value[0] == value[^1] && value[0] is '"' or '\'' ? value[1..^1] : value;
    }

    // "- name: my-clustered-app" or "  instances: 4"
    [GeneratedRegex(@"^(?:- |  )(?<key>[A-Za-z_][A-Za-z0-9_-]*):(?:\s+(?<value>.*))?$")]
    private static partial Regex AppKey();

    // "  - service-registry"
    [GeneratedRegex(@"^  - (?<value>.+)$")]
    private static partial Regex ListItem();

    // "    ASPNETCORE_ENVIRONMENT: Production"
    [GeneratedRegex(@"^    (?<key>[A-Za-z_][A-Za-z0-9_.]*):\s+(?<value>.+)$")]
    private static partial Regex MapEntry();
}
