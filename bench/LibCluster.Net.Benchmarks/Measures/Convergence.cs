using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using LibCluster.Benchmarks.Infrastructure;
using LibCluster.Messaging;
using Microsoft.Extensions.Hosting;

namespace LibCluster.Benchmarks.Measures;

/// <summary>
/// Full-mesh formation: N real hosts (<c>AddLibCluster</c>, a Static topology listing all N) in this process on
/// loopback. The clock starts once every host has started (its listener bound, its topology running) and stops when
/// the last node sees N-1 peers. The N*(N-1) sockets all live in this one process.
/// </summary>
internal static class Convergence
{
    public static async Task<int> RunAsync(BenchArgs args, TimeSpan timeout)
    {
        var n = args.Int("nodes", args.Flag("quick") ? 5 : 20, min: 2, max: 1000);
        using var sampler = args.Flag("alloc-types") ? new AllocationSampler() : null;
        args.ThrowIfUnused();

        CheckFileLimit(n);
        using var meters = new DialCounters();
        var ports = Ports.Free(n);
        var names = Enumerable.Range(0, n).Select(i => $"conv{i}@127.0.0.1").ToArray();
        var entries = names.Select((name, i) => $"{name}:{ports[i].ToString(CultureInfo.InvariantCulture)}").ToArray();
        var hosts = new List<IHost>(n);
        // Inside the harness's own watchdog, so that a mesh that never forms is reported with what was seen.
        using var stop = new CancellationTokenSource(timeout * 0.9);
        try
        {
            for (var i = 0; i < n; i++)
            {
                hosts.Add(BenchHost.Build(names[i], ports[i], staticNodes: entries));
            }

            // Armed before any node starts, so no NodeUp can be missed.
            var done = new long[n];
            var waits = hosts.Select((h, i) => WaitAsync(h.Cluster(), n - 1, done, i, stop.Token)).ToArray();

            var before = ProcessStats.Now();
            var firstStart = Stopwatch.GetTimestamp();
            foreach (var host in hosts)
            {
                await host.StartAsync(stop.Token).ConfigureAwait(false);
            }

            var allStarted = Stopwatch.GetTimestamp();
            try
            {
                await Task.WhenAll(waits).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                var seen = hosts.Select(h => h.Cluster().ConnectedNodes.Count).ToArray();
                throw new BenchFailedException(
                    $"no full mesh within {timeout.TotalSeconds * 0.9:0} s: {seen.Count(c => c == n - 1)} of {n} nodes saw all {n - 1} peers; " +
                    $"fewest peers seen: {seen.Min()} ({meters})");
            }

            var after = ProcessStats.Now();
            sampler?.Report("all_nodes");
            var last = done.Max();
            var sorted = done.Select(d => NodeRole.MillisecondsBetween(allStarted, d)).Order().ToArray();
            var fullMeshMs = NodeRole.MillisecondsBetween(allStarted, last);
            Console.Error.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"convergence_extra nodes={n} start_all_ms={NodeRole.MillisecondsBetween(firstStart, allStarted):F1} from_first_start_ms={NodeRole.MillisecondsBetween(firstStart, last):F1} " +
                $"node_p50_ms={sorted[sorted.Length / 2]:F1} node_min_ms={sorted[0]:F1} {meters} " +
                $"cpu_ms={(after.Cpu - before.Cpu).TotalMilliseconds:F0} cores={Environment.ProcessorCount} alloc_mb={(after.AllocatedBytes - before.AllocatedBytes) / 1048576.0:F0} gc_pause_ms={(after.GcPause - before.GcPause).TotalMilliseconds:F0} pool_threads={after.Threads}"));

            // Still whole a moment later: nothing fell over once it was up.
            var counts = hosts.Select(h => h.Cluster().ConnectedNodes.Count).ToArray();
            if (counts.Any(c => c != n - 1))
            {
                throw new BenchFailedException($"the mesh did not hold: peer counts {string.Join(',', counts)}");
            }

            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"convergence nodes={n} full_mesh_ms={fullMeshMs:F1}"));
            return 0;
        }
        finally
        {
            var stopping = Stopwatch.GetTimestamp();
            await Task.WhenAll(hosts.Select(h => h.StopQuietlyAsync(TimeSpan.FromSeconds(30)))).ConfigureAwait(false);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"convergence_extra stop_all_ms={Stopwatch.GetElapsedTime(stopping).TotalMilliseconds:F0}"));
        }
    }

    private static async Task WaitAsync(ICluster cluster, int peers, long[] done, int index, CancellationToken cancellationToken)
    {
        await cluster.WaitForNodesAsync(peers, cancellationToken).ConfigureAwait(false);
        done[index] = Stopwatch.GetTimestamp();
    }

    /// <summary>Each of the N*(N-1)/2 connections has both ends in this process; the harness raises no limit, it only says so.</summary>
    private static void CheckFileLimit(int n)
    {
        var needed = (long)n * (n - 1) + n + 256;
        var limit = OpenFileLimit();
        if (limit is { } soft && soft < needed)
        {
            throw new BenchFailedException(
                $"ulimit -n is {soft}; {n} nodes in one process need about {needed} descriptors ({n}*{n - 1} sockets, {n} listeners and the runtime's own). Raise it (ulimit -n {needed}) or use fewer nodes.");
        }

        Console.Error.WriteLine($"convergence_extra open_files_limit={limit?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} needed_about={needed}");
    }

    private static long? OpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return parts[0] == "unlimited" ? long.MaxValue : long.Parse(parts[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }

    /// <summary>Dial attempts and failures of every node in the process, from the library's own meter.</summary>
    private sealed class DialCounters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _attempts;
        private long _failures;
        private long _handshakeFailures;

        public DialCounters()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "LibCluster.Net" && instrument.Name is "libcluster.connection.attempts" or "libcluster.connection.failures" or "libcluster.handshake.failures")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                switch (instrument.Name)
                {
                    case "libcluster.connection.attempts":
                        Interlocked.Add(ref _attempts, value);
                        break;
                    case "libcluster.connection.failures":
                        Interlocked.Add(ref _failures, value);
                        break;
                    default:
                        Interlocked.Add(ref _handshakeFailures, value);
                        break;
                }
            });
            _listener.Start();
        }

        public override string ToString() => string.Create(
            CultureInfo.InvariantCulture,
            $"dial_attempts={Interlocked.Read(ref _attempts)} dial_failures={Interlocked.Read(ref _failures)} handshake_failures={Interlocked.Read(ref _handshakeFailures)}");

        public void Dispose() => _listener.Dispose();
    }
}
