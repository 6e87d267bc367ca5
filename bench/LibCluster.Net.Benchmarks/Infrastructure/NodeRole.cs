using System.Diagnostics;
using System.Globalization;
using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>
/// What the hidden node roles share: protocol lines on stdout, membership changes stamped with the monotonic clock,
/// and stopping when stdin closes.
/// </summary>
/// <remarks>
/// <see cref="Stopwatch.GetTimestamp"/> reads CLOCK_MONOTONIC on Linux, one clock for every process on the machine,
/// so the driver can subtract a child's stamp from its own (the moment it killed or froze a node) without the delay
/// of reading the child's stdout in between.
/// </remarks>
internal static class NodeRole
{
    private static readonly object s_gate = new();

    public static void Emit(string line)
    {
        lock (s_gate)
        {
            Console.Out.WriteLine(line);
            Console.Out.Flush();
        }
    }

    /// <summary>Prints <c>UP node creation stamp</c> and <c>DOWN node reason stamp</c> lines until cancelled.</summary>
    public static async Task ReportMembershipAsync(ICluster cluster, string prefix, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var change in cluster.WatchAsync(cancellationToken).ConfigureAwait(false))
            {
                var stamp = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture);
                Emit(change.Kind == MembershipChangeKind.NodeUp
                    ? $"{prefix}UP {change.Node} {change.Creation} {stamp}"
                    : $"{prefix}DOWN {change.Node} {change.Reason} {stamp}");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Completes when stdin closes (the driver's signal to stop, or the driver died); each line read goes to <paramref name="onLine"/>.</summary>
    public static Task StdinClosed(Action<string>? onLine = null)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                while (Console.In.ReadLine() is { } line)
                {
                    onLine?.Invoke(line);
                }
            }
            catch (IOException)
            {
            }

            closed.TrySetResult();
        })
        {
            IsBackground = true,
            Name = "stdin",
        };
        thread.Start();
        return closed.Task;
    }

    /// <summary>Parses a <c>UP</c>/<c>DOWN</c> line: kind, node, reason (DOWN) and the sender's monotonic stamp.</summary>
    public static bool TryParse(string line, out bool up, out string node, out string reason, out long stamp)
    {
        var parts = line.Split(' ');
        up = parts[0] == "UP";
        node = parts.Length > 1 ? parts[1] : string.Empty;
        reason = !up && parts.Length > 2 ? parts[2] : string.Empty;
        stamp = 0;
        return (up || parts[0] == "DOWN") && parts.Length == 4 && long.TryParse(parts[3], CultureInfo.InvariantCulture, out stamp);
    }

    /// <summary>The nodes connected according to a node's UP/DOWN lines.</summary>
    public static HashSet<string> Connected(IEnumerable<string> lines)
    {
        var connected = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in lines)
        {
            if (TryParse(line, out var up, out var node, out _, out _))
            {
                if (up)
                {
                    connected.Add(node);
                }
                else
                {
                    connected.Remove(node);
                }
            }
        }

        return connected;
    }

    public static double MillisecondsBetween(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;
}
