using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>
/// Process-wide counters read before and after a phase: bytes allocated, thread-pool work items completed (each is a
/// hop onto a pool thread), CPU time, collections and lock contentions. The differences, per operation, are the
/// profile lines the pingpong measure prints on stderr.
/// </summary>
internal readonly record struct ProcessStats(long AllocatedBytes, long WorkItems, TimeSpan Cpu, int Gen0, int Gen1, int Gen2, long Contentions, int Threads, TimeSpan GcPause)
{
    public static ProcessStats Now()
    {
        using var self = Process.GetCurrentProcess();
        return new ProcessStats(
            GC.GetTotalAllocatedBytes(precise: true),
            ThreadPool.CompletedWorkItemCount,
            self.TotalProcessorTime,
            GC.CollectionCount(0),
            GC.CollectionCount(1),
            GC.CollectionCount(2),
            Monitor.LockContentionCount,
            ThreadPool.ThreadCount,
            GC.GetTotalPauseDuration());
    }

    public string Encode() => string.Join(
        ' ',
        AllocatedBytes.ToString(CultureInfo.InvariantCulture),
        WorkItems.ToString(CultureInfo.InvariantCulture),
        Cpu.Ticks.ToString(CultureInfo.InvariantCulture),
        Gen0.ToString(CultureInfo.InvariantCulture),
        Gen1.ToString(CultureInfo.InvariantCulture),
        Gen2.ToString(CultureInfo.InvariantCulture),
        Contentions.ToString(CultureInfo.InvariantCulture),
        Threads.ToString(CultureInfo.InvariantCulture),
        GcPause.Ticks.ToString(CultureInfo.InvariantCulture));

    public static ProcessStats Decode(string text)
    {
        var p = text.Split(' ');
        return new ProcessStats(
            long.Parse(p[0], CultureInfo.InvariantCulture),
            long.Parse(p[1], CultureInfo.InvariantCulture),
            TimeSpan.FromTicks(long.Parse(p[2], CultureInfo.InvariantCulture)),
            int.Parse(p[3], CultureInfo.InvariantCulture),
            int.Parse(p[4], CultureInfo.InvariantCulture),
            int.Parse(p[5], CultureInfo.InvariantCulture),
            long.Parse(p[6], CultureInfo.InvariantCulture),
            int.Parse(p[7], CultureInfo.InvariantCulture),
            TimeSpan.FromTicks(long.Parse(p[8], CultureInfo.InvariantCulture)));
    }

    /// <summary>One stderr line: the change from <paramref name="before"/> to <paramref name="after"/>, per operation.</summary>
    public static string Describe(string phase, string side, ProcessStats before, ProcessStats after, long operations)
    {
        var ops = Math.Max(operations, 1);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"pingpong_profile phase={phase} side={side} ops={operations}");
        text.Append(CultureInfo.InvariantCulture, $" alloc_bytes_per_op={(after.AllocatedBytes - before.AllocatedBytes) / (double)ops:F1}");
        text.Append(CultureInfo.InvariantCulture, $" pool_items_per_op={(after.WorkItems - before.WorkItems) / (double)ops:F2}");
        text.Append(CultureInfo.InvariantCulture, $" cpu_us_per_op={(after.Cpu - before.Cpu).TotalMicroseconds / ops:F2}");
        text.Append(CultureInfo.InvariantCulture, $" gc0={after.Gen0 - before.Gen0} gc1={after.Gen1 - before.Gen1} gc2={after.Gen2 - before.Gen2} gc_pause_ms={(after.GcPause - before.GcPause).TotalMilliseconds:F1}");
        text.Append(CultureInfo.InvariantCulture, $" lock_contentions={after.Contentions - before.Contentions} pool_threads={after.Threads}");
        return text.ToString();
    }
}
