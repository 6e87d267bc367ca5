using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>Records every membership change one node reports, from the moment it is started.</summary>
internal sealed class MembershipRecorder : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<MembershipChange> _changes = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private MembershipRecorder(ICluster cluster)
    {
        // WatchAsync registers its watcher on the first MoveNextAsync, which runs synchronously up to its first await:
        // nothing that happens after this constructor returns is missed.
        _loop = RunAsync(cluster.WatchAsync(_stop.Token));
    }

    public static MembershipRecorder Start(ICluster cluster) => new(cluster);

    public IReadOnlyList<MembershipChange> Changes
    {
        get
        {
            lock (_gate)
            {
                return [.. _changes];
            }
        }
    }

    public IReadOnlyList<MembershipChange> Downs => Changes.Where(c => c.Kind == MembershipChangeKind.NodeDown).ToArray();

    private async Task RunAsync(IAsyncEnumerable<MembershipChange> changes)
    {
        try
        {
            await foreach (var change in changes)
            {
                lock (_gate)
                {
                    _changes.Add(change);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
