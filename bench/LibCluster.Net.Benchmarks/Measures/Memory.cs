using System.Globalization;
using LibCluster.Benchmarks.Infrastructure;
using Microsoft.Extensions.Hosting;

namespace LibCluster.Benchmarks.Measures;

/// <summary>
/// The idle footprint of one node: a real host (<c>AddLibCluster</c>) in its own process, measured alone and then
/// with P connected peers (all P in one other process). Each reading follows a forced, compacting full collection
/// in the node and a short settle, and is the node process's resident set (working set) as the kernel reports it.
/// </summary>
internal static class Memory
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static int Run(BenchArgs args)
    {
        var peerCount = args.Int("peers", args.Flag("quick") ? 2 : 20, min: 1, max: 500);
        var settleMs = args.Int("settle-ms", args.Flag("quick") ? 500 : 2000, min: 0, max: 600_000);
        var verbose = args.Flag("verbose");
        args.ThrowIfUnused();

        var port = Ports.Free(1)[0];
        var name = "mem0@127.0.0.1";
        using var node = ChildProcess.Start(name, ["memnode", "--name", name, "--port", port.ToString(CultureInfo.InvariantCulture)], verbose);
        node.WaitForLine("LISTENING ", StartTimeout);
        Thread.Sleep(settleMs);
        var idle = Measure(node, settleMs);

        using var peers = ChildProcess.Start(
            "peers",
            ["mempeers", "--count", peerCount.ToString(CultureInfo.InvariantCulture), "--target", $"{name}:{port.ToString(CultureInfo.InvariantCulture)}"],
            verbose);
        node.WaitFor(lines => NodeRole.Connected(lines).Count >= peerCount ? "ok" : null, StartTimeout, $"{peerCount} peers are connected");
        Thread.Sleep(settleMs);
        var loaded = Measure(node, settleMs);
        var connected = NodeRole.Connected(node.Lines()).Count;
        if (connected != peerCount)
        {
            throw new BenchFailedException($"{connected} peers were connected when measured, not {peerCount}");
        }

        // The same process without LibCluster: what the runtime and the generic host cost on their own.
        long bareRss;
        using (var bare = ChildProcess.Start("bare", ["memnode", "--name", "bare@127.0.0.1", "--bare"], verbose))
        {
            bare.WaitForLine("LISTENING ", StartTimeout);
            Thread.Sleep(settleMs);
            bareRss = Measure(bare, settleMs).Rss;
        }

        var perPeerKb = (loaded.Rss - idle.Rss) / 1024.0 / peerCount;
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"memory_extra bare_host_rss_kb={bareRss / 1024} libcluster_idle_share_kb={(idle.Rss - bareRss) / 1024}"));
        Console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"memory_extra peers=0 rss_kb={idle.Rss / 1024} managed_heap_kb={idle.Managed / 1024} threads={idle.Threads} fds={idle.Fds}"));
        Console.Error.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"memory_extra peers={peerCount} rss_kb={loaded.Rss / 1024} managed_heap_kb={loaded.Managed / 1024} threads={loaded.Threads} fds={loaded.Fds} managed_kb_per_peer={(loaded.Managed - idle.Managed) / 1024.0 / peerCount:F1}"));
        Console.Out.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"memory rss_mb_idle={idle.Rss / (1024.0 * 1024.0):F1} rss_kb_per_peer={perPeerKb:F1}"));
        peers.Stop(TimeSpan.FromSeconds(20));
        return 0;
    }

    private readonly record struct Reading(long Rss, long Managed, int Threads, int Fds);

    /// <summary>Asks the node to collect, lets it settle, then reads its resident set from /proc.</summary>
    private static Reading Measure(ChildProcess node, int settleMs)
    {
        var mark = node.LineCount;
        node.WriteLine("gc");
        var done = node.WaitForLine("GC_DONE ", StartTimeout, mark);
        Thread.Sleep(Math.Min(settleMs, 1000));
        var managed = long.Parse(done.Split(' ')[1], CultureInfo.InvariantCulture);
        var status = File.ReadAllLines($"/proc/{node.Pid.ToString(CultureInfo.InvariantCulture)}/status");
        long Kb(string key) => long.Parse(status.First(l => l.StartsWith(key, StringComparison.Ordinal)).Split(' ', '\t').Where(p => p.Length > 0).ElementAt(1), CultureInfo.InvariantCulture);
        var threads = (int)Kb("Threads:");
        var fds = Directory.GetFiles($"/proc/{node.Pid.ToString(CultureInfo.InvariantCulture)}/fd").Length;
        return new Reading(Kb("VmRSS:") * 1024, managed, threads, fds);
    }

    /// <summary>
    /// The hidden <c>memnode</c> role: an idle node; on a "gc" line it collects fully and prints GC_DONE with its heap
    /// size. With <c>--bare</c> it is the same host without LibCluster (the baseline).
    /// </summary>
    public static async Task<int> RunNodeAsync(BenchArgs args)
    {
        var name = args.String("name") ?? throw new BenchUsageException("--name is required");
        var port = args.Int("port", 0, min: 0, max: 65535);
        var bare = args.Flag("bare");
        args.ThrowIfUnused();

        if (bare)
        {
            return await RunBareAsync().ConfigureAwait(false);
        }

        var host = BenchHost.Build(name, port);
        using var stopping = new CancellationTokenSource();
        var reporting = NodeRole.ReportMembershipAsync(host.Cluster(), string.Empty, stopping.Token);
        var closed = NodeRole.StdinClosed(OnCommand);
        await host.StartAsync().ConfigureAwait(false);
        NodeRole.Emit($"LISTENING {host.ListenPort().ToString(CultureInfo.InvariantCulture)}");
        await closed.ConfigureAwait(false);
        await host.StopQuietlyAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await stopping.CancelAsync().ConfigureAwait(false);
        await reporting.ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> RunBareAsync()
    {
        var host = BenchHost.BuildBare();
        var closed = NodeRole.StdinClosed(OnCommand);
        await host.StartAsync().ConfigureAwait(false);
        NodeRole.Emit("LISTENING 0");
        await closed.ConfigureAwait(false);
        await host.StopQuietlyAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        return 0;
    }

    private static void OnCommand(string line)
    {
        if (line == "gc")
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            NodeRole.Emit($"GC_DONE {GC.GetTotalMemory(forceFullCollection: false).ToString(CultureInfo.InvariantCulture)}");
        }
    }

    /// <summary>The hidden <c>mempeers</c> role: <c>--count</c> nodes in this process, each with a Static topology naming the target.</summary>
    public static async Task<int> RunPeersAsync(BenchArgs args)
    {
        var count = args.Int("count", 20, min: 1);
        var target = args.String("target") ?? throw new BenchUsageException("--target name@host:port is required");
        args.ThrowIfUnused();

        var hosts = Enumerable.Range(0, count).Select(i => BenchHost.Build($"memp{i}@127.0.0.1", 0, staticNodes: [target])).ToList();
        var closed = NodeRole.StdinClosed();
        foreach (var host in hosts)
        {
            await host.StartAsync().ConfigureAwait(false);
        }

        NodeRole.Emit("STARTED");
        await closed.ConfigureAwait(false);
        await Task.WhenAll(hosts.Select(h => h.StopQuietlyAsync(TimeSpan.FromSeconds(10)))).ConfigureAwait(false);
        return 0;
    }
}
