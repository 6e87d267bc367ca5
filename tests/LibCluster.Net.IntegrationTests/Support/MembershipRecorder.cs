using System.Diagnostics;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Support;

/// <summary>A membership change as a watcher received it, with the <see cref="Stopwatch"/> timestamp of its arrival.</summary>
internal readonly record struct RecordedChange(MembershipChange Change, long Timestamp)
{
    public MembershipChangeKind Kind => Change.Kind;

    public NodeName Node => Change.Node;

    public override string ToString() =>
        Change.Kind == MembershipChangeKind.NodeUp
            ? $"up {Change.Node} (creation {Change.Creation:x8})"
            : $"down {Change.Node} (creation {Change.Creation:x8}, {Change.Reason})";
}

/// <summary>
/// Records every membership change a node reports. The watch is armed before <see cref="Start"/> returns
/// (<c>WatchAsync</c> registers its watcher on the first <c>MoveNextAsync</c>, which runs synchronously here), so
/// nothing that happens after the call is missed: arm the recorder first, then trigger.
/// </summary>
internal sealed class MembershipRecorder : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<RecordedChange> _changes = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _owner;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _loop = Task.CompletedTask;

    private MembershipRecorder(string owner)
    {
        _owner = owner;
    }

    public static MembershipRecorder Start(TestNode node)
    {
        var recorder = new MembershipRecorder(node.Name.Value);
        recorder._loop = recorder.RunAsync(node.Cluster.WatchAsync(recorder._stop.Token));
        return recorder;
    }

    /// <summary>Everything recorded so far, in arrival order.</summary>
    public IReadOnlyList<RecordedChange> Snapshot()
    {
        lock (_gate)
        {
            return [.. _changes];
        }
    }

    /// <summary>The changes recorded so far that concern <paramref name="node"/>.</summary>
    public IReadOnlyList<RecordedChange> For(NodeName node) => Snapshot().Where(c => c.Node == node).ToArray();

    /// <summary>Waits for the first change at or after <paramref name="from"/> that matches.</summary>
    public async Task<RecordedChange> WaitForAsync(Func<MembershipChange, bool> predicate, TimeSpan timeout, string because, int from = 0)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                for (var i = from; i < _changes.Count; i++)
                {
                    if (predicate(_changes[i].Change))
                    {
                        return _changes[i];
                    }
                }

                changed = _changed.Task;
            }

            var left = deadline - Stopwatch.GetTimestamp();
            if (left <= 0 || _loop.IsCompleted)
            {
                throw new TimeoutException(
                    $"Timed out after {timeout.TotalSeconds:0.##} s waiting on {_owner} until {because}; it saw: [{string.Join("; ", Snapshot())}].");
            }

            try
            {
                await changed.WaitAsync(TimeSpan.FromSeconds((double)left / Stopwatch.Frequency));
            }
            catch (TimeoutException)
            {
                // Checked at the top of the loop, with the context for the message.
            }
        }
    }

    public Task<RecordedChange> WaitForAsync(MembershipChangeKind kind, NodeName node, TimeSpan timeout, int from = 0) =>
        WaitForAsync(c => c.Kind == kind && c.Node == node, timeout, $"{kind} {node}", from);

    private async Task RunAsync(IAsyncEnumerable<MembershipChange> changes)
    {
        try
        {
            await foreach (var change in changes)
            {
                var recorded = new RecordedChange(change, Stopwatch.GetTimestamp());
                TaskCompletionSource changed;
                lock (_gate)
                {
                    _changes.Add(recorded);
                    changed = _changed;
                    _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                changed.TrySetResult();
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _changed.TrySetResult();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
