using System.Globalization;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// Packet filter rules inside a test's own network namespace, and only there: every command is
/// <c>ip netns exec NAME iptables ...</c>, so the machine's own firewall is never read or changed. A rule dies with
/// its namespace; the helpers that add rules also remove them by their exact specification, so that a test can heal
/// what it broke while its namespaces live on. Every rule this class adds carries a comment, which is how
/// <see cref="PacketsAsync"/> finds its counters.
/// </summary>
internal static class Iptables
{
    private static readonly Lazy<string?> Executable = new(FindExecutable);

    /// <summary>Why the fault tests that need iptables cannot run here, or null when they can.</summary>
    public static string? WhyUnavailable() =>
        NetworkNamespace.WhyUnavailable()
        ?? (Executable.Value is null ? "Needs iptables to drop packets inside the test's network namespaces (.ci/run installs it)." : null);

    /// <summary>Runs <c>iptables -w args...</c> inside <paramref name="space"/>, throwing with its output when it fails.</summary>
    public static Task<string> RunAsync(NetworkNamespace space, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(space);
        var iptables = Executable.Value ?? throw new InvalidOperationException(WhyUnavailable());
        return NetworkNamespace.RunIpAsync(["netns", "exec", space.Name, iptables, "-w", .. args]);
    }

    /// <summary>
    /// Drops every packet that arrives in <paramref name="space"/> from <paramref name="source"/> (a partition, seen
    /// from one side). Nothing is answered: the sender sees silence, as when a link or a switch dies.
    /// </summary>
    public static Task DropFromAsync(NetworkNamespace space, string source, string comment = "lc-partition") =>
        RunAsync(space, ["-I", "INPUT", .. DropFrom(source, comment)]);

    /// <summary>Removes the rule <see cref="DropFromAsync"/> added.</summary>
    public static Task UndropFromAsync(NetworkNamespace space, string source, string comment = "lc-partition") =>
        RunAsync(space, ["-D", "INPUT", .. DropFrom(source, comment)]);

    /// <summary>
    /// Loses each packet between <paramref name="space"/> and <paramref name="peer"/>, in both directions, with the
    /// given probability (the <c>statistic</c> match in random mode: this kernel has no netem).
    /// </summary>
    public static async Task AddLossAsync(NetworkNamespace space, string peer, double probability, string comment = "lc-loss")
    {
        var p = probability.ToString("0.###", CultureInfo.InvariantCulture);
        await RunAsync(space, "-A", "INPUT", "-s", peer, "-m", "statistic", "--mode", "random", "--probability", p, "-m", "comment", "--comment", comment, "-j", "DROP");
        await RunAsync(space, "-A", "OUTPUT", "-d", peer, "-m", "statistic", "--mode", "random", "--probability", p, "-m", "comment", "--comment", comment, "-j", "DROP");
    }

    /// <summary>
    /// Drops what <paramref name="space"/> sends on one TCP connection, named by its local port and remote endpoint:
    /// the connection's packets, its FIN and its RST never leave, as when a host loses power.
    /// </summary>
    public static Task SilenceConnectionAsync(NetworkNamespace space, int localPort, string remoteAddress, int remotePort, string comment = "lc-vanish") =>
        RunAsync(
            space,
            "-I", "OUTPUT", "-p", "tcp", "--sport", localPort.ToString(CultureInfo.InvariantCulture), "-d", remoteAddress,
            "--dport", remotePort.ToString(CultureInfo.InvariantCulture), "-m", "comment", "--comment", comment, "-j", "DROP");

    /// <summary>The packets matched so far by the rules of <paramref name="chain"/> that carry <paramref name="comment"/>.</summary>
    public static async Task<long> PacketsAsync(NetworkNamespace space, string chain, string comment)
    {
        // "-S -v" prints each rule with "-c <packets> <bytes>".
        var rules = await RunAsync(space, "-S", chain, "-v");
        long packets = 0;
        foreach (var line in rules.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!line.Contains($"--comment {comment}", StringComparison.Ordinal))
            {
                continue;
            }

            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var counter = Array.IndexOf(words, "-c");
            if (counter >= 0 && counter + 1 < words.Length)
            {
                packets += long.Parse(words[counter + 1], CultureInfo.InvariantCulture);
            }
        }

        return packets;
    }

    private static string[] DropFrom(string source, string comment) => ["-s", source, "-m", "comment", "--comment", comment, "-j", "DROP"];

    private static string? FindExecutable()
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin"])
            .Select(dir => Path.Combine(dir, "iptables"))
            .FirstOrDefault(File.Exists);
    }
}

/// <summary>
/// A fault test that needs root, network namespaces and iptables, as CI has: skipped with the reason everywhere else.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class IptablesFactAttribute : FactAttribute
{
    public IptablesFactAttribute()
    {
        if (Iptables.WhyUnavailable() is { } reason)
        {
            Skip = reason;
        }
    }
}
