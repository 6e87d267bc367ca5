using System.Diagnostics;
using System.Globalization;
using LibCluster.Benchmarks.Infrastructure;

namespace LibCluster.Benchmarks.Measures;

/// <summary>
/// Failure detection: N node processes form a mesh with the Static strategy; then, each time with the other N-1
/// as survivors, (1) one is killed hard (its kernel closes its sockets, so survivors learn at once), (2) one is
/// frozen with SIGSTOP (its sockets stay open and silent: only the tick timeout finds it, expected between TickTime
/// and 1.25 × TickTime), (3) one is stopped gracefully (stdin closed: it says goodbye). Each figure is the time from
/// the driver's action to the last survivor's NodeDown, stamped by the survivors themselves on the shared monotonic
/// clock. A killed or frozen node is started again on the same name and port before the next phase.
/// </summary>
internal static class Failover
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static int Run(BenchArgs args)
    {
        var n = args.Int("nodes", args.Flag("quick") ? 3 : 5, min: 2, max: 50);
        var tickMs = args.Int("tick-time", args.Flag("quick") ? 1000 : 15000, min: 100, max: 3_600_000);
        var verbose = args.Flag("verbose");
        args.ThrowIfUnused();

        var ports = Ports.Free(n);
        var names = Enumerable.Range(0, n).Select(i => $"fo{i}@127.0.0.1").ToArray();
        var peers = string.Join(',', names.Select((name, i) => $"{name}:{ports[i].ToString(CultureInfo.InvariantCulture)}"));
        var nodes = new ChildProcess?[n];

        ChildProcess StartNode(int i) => ChildProcess.Start(
            names[i],
            ["node", "--name", names[i], "--port", ports[i].ToString(CultureInfo.InvariantCulture), "--tick-time", tickMs.ToString(CultureInfo.InvariantCulture), "--peers", peers],
            verbose);

        try
        {
            for (var i = 0; i < n; i++)
            {
                nodes[i] = StartNode(i);
            }

            foreach (var node in nodes)
            {
                node!.WaitForLine("LISTENING ", StartTimeout);
            }

            WaitForFullMesh(nodes!, names);

            // (1) Killed: the kernel closes the sockets.
            var victim = n - 1;
            var kill = Detect(nodes!, names, victim, "kill", tickMs, static v => v.Kill());
            nodes[victim]!.Dispose();
            nodes[victim] = StartNode(victim);
            WaitForFullMesh(nodes!, names);

            // (2) Frozen: only the ticks can tell.
            victim = n >= 3 ? n - 2 : n - 1;
            var freeze = Detect(nodes!, names, victim, "freeze", tickMs, static v => v.Freeze());
            nodes[victim]!.Kill();
            nodes[victim]!.Dispose();
            nodes[victim] = StartNode(victim);
            WaitForFullMesh(nodes!, names);

            // (3) Graceful: the node says goodbye.
            victim = n >= 4 ? n - 3 : n - 1;
            var graceful = Detect(nodes!, names, victim, "graceful", tickMs, static v => v.CloseInput());

            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"failover nodes={n} tick_time_ms={tickMs} kill_detect_ms_max={kill:F1} freeze_detect_ms_max={freeze:F1} graceful_detect_ms_max={graceful:F1}"));
            return 0;
        }
        finally
        {
            foreach (var node in nodes)
            {
                node?.Dispose();
            }
        }
    }

    /// <summary>Acts on one node and returns the slowest survivor's detection time in milliseconds.</summary>
    private static double Detect(ChildProcess[] nodes, string[] names, int victim, string phase, int tickMs, Action<ChildProcess> act)
    {
        var survivors = Enumerable.Range(0, nodes.Length).Where(i => i != victim).ToArray();
        var marks = survivors.ToDictionary(i => i, i => nodes[i].LineCount);
        var prefix = $"DOWN {names[victim]} ";
        var wait = TimeSpan.FromMilliseconds(tickMs * 3L) + TimeSpan.FromSeconds(30);

        var acted = Stopwatch.GetTimestamp();
        act(nodes[victim]);

        var times = new List<double>();
        var reasons = new HashSet<string>(StringComparer.Ordinal);
        foreach (var i in survivors)
        {
            var line = nodes[i].WaitForLine(prefix, wait, marks[i]);
            if (!NodeRole.TryParse(line, out _, out _, out var reason, out var stamp))
            {
                throw new BenchFailedException($"{names[i]} printed a malformed line: {line}");
            }

            reasons.Add(reason);
            times.Add(NodeRole.MillisecondsBetween(acted, stamp));
        }

        var max = times.Max();
        Console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"failover_extra phase={phase} victim={names[victim]} survivors={survivors.Length} detect_ms_min={times.Min():F1} detect_ms_max={max:F1} reasons={string.Join('|', reasons)} max_over_tick={max / tickMs:F3}"));
        return max;
    }

    private static void WaitForFullMesh(ChildProcess[] nodes, string[] names)
    {
        for (var i = 0; i < nodes.Length; i++)
        {
            var others = names.Where((_, j) => j != i).ToHashSet(StringComparer.Ordinal);
            nodes[i].WaitFor(lines => NodeRole.Connected(lines).SetEquals(others) ? "ok" : null, StartTimeout, $"it is connected to all {others.Count} others");
        }
    }

    /// <summary>The hidden <c>node</c> role: a node with a Static topology that prints LISTENING, UP and DOWN lines.</summary>
    public static async Task<int> RunNodeAsync(BenchArgs args)
    {
        var name = args.String("name") ?? throw new BenchUsageException("--name is required");
        var port = args.Int("port", 0, min: 0, max: 65535);
        var tickMs = args.Int("tick-time", 15000, min: 100);
        var peers = (args.String("peers") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries);
        args.ThrowIfUnused();

        var host = BenchHost.Build(name, port, TimeSpan.FromMilliseconds(tickMs), peers.Length > 0 ? peers : null);
        using var stopping = new CancellationTokenSource();
        var closed = NodeRole.StdinClosed();
        var cluster = host.Cluster();
        var reporting = NodeRole.ReportMembershipAsync(cluster, string.Empty, stopping.Token);
        await host.StartAsync().ConfigureAwait(false);
        NodeRole.Emit($"LISTENING {host.ListenPort().ToString(CultureInfo.InvariantCulture)}");
        await closed.ConfigureAwait(false);
        await host.StopQuietlyAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await stopping.CancelAsync().ConfigureAwait(false);
        await reporting.ConfigureAwait(false);
        return 0;
    }
}
