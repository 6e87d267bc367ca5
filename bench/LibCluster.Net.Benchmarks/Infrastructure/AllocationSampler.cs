using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>
/// Which types a process allocates, from the runtime's own allocation sampling (the GCAllocationTick event, raised
/// about every 100 KB allocated, naming the type of the object that crossed the mark). Enabled with
/// <c>pingpong --alloc-types</c> in both nodes; each prints its top types on stderr when it stops.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int AllocationTickEventId = 10;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private long _total;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            // Keyword 0x1 (GC) at Verbose includes the allocation ticks.
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (eventData.EventId != AllocationTickEventId || eventData.Payload is null || eventData.PayloadNames is null)
        {
            return;
        }

        var type = "?";
        long amount = 0;
        for (var i = 0; i < eventData.PayloadNames.Count; i++)
        {
            switch (eventData.PayloadNames[i])
            {
                case "TypeName":
                    type = eventData.Payload[i] as string ?? "?";
                    break;
                case "AllocationAmount64":
                    amount = Convert.ToInt64(eventData.Payload[i], CultureInfo.InvariantCulture);
                    break;
            }
        }

        _bytes.AddOrUpdate(type, amount, (_, sum) => sum + amount);
        Interlocked.Add(ref _total, amount);
    }

    /// <summary>The top types by sampled bytes, one stderr line each.</summary>
    public void Report(string side, int top = 15)
    {
        var total = Math.Max(Interlocked.Read(ref _total), 1);
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"alloc_types side={side} sampled_mb={total / 1048576.0:F1}"));
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(top))
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"alloc_types side={side} share={bytes * 100.0 / total:F1}% mb={bytes / 1048576.0:F1} type={type}"));
        }
    }
}
