using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Tests.Topology;

/// <summary>
/// A mesh without sockets: records every dial and disconnect, lets a test make dials to a node succeed, fail or
/// hang, and raises NodeUp/NodeDown to watchers like the real connection manager does.
/// </summary>
internal sealed class FakeNodeConnector(NodeName self, TimeProvider time) : INodeConnector
{
    private readonly Lock _gate = new();
    private readonly HashSet<NodeName> _connected = [];
    private readonly Dictionary<NodeName, DialMode> _modes = [];
    private readonly Dictionary<NodeName, TaskCompletionSource> _hangs = [];
    private readonly Dictionary<NodeName, Exception> _errors = [];
    private readonly List<Channel<MembershipChange>> _watchers = [];
    private readonly List<DialRecord> _dials = [];
    private readonly List<NodeName> _disconnects = [];
    private int _inFlight;
    private int _maxInFlight;

    private enum DialMode
    {
        Succeed,
        Fail,
        Hang,
    }

    public NodeName Self { get; } = self;

    public IReadOnlyList<DialRecord> Dials
    {
        get
        {
            lock (_gate)
            {
                return [.. _dials];
            }
        }
    }

    public IReadOnlyList<NodeName> Disconnects
    {
        get
        {
            lock (_gate)
            {
                return [.. _disconnects];
            }
        }
    }

    public int InFlight => Volatile.Read(ref _inFlight);

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    public int WatcherCount
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    public int DialCount(NodeName node) => Dials.Count(d => d.Address.Name == node);

    public IReadOnlyList<DateTimeOffset> DialTimes(NodeName node) => [.. Dials.Where(d => d.Address.Name == node).Select(d => d.At)];

    /// <summary>Dials to <paramref name="node"/> succeed (the default).</summary>
    public void Succeed(NodeName node) => SetMode(node, DialMode.Succeed);

    /// <summary>Dials to <paramref name="node"/> throw <paramref name="error"/>, or by default <see cref="ClusterConnectException"/>.</summary>
    public void Fail(NodeName node, Exception? error = null)
    {
        lock (_gate)
        {
            _modes[node] = DialMode.Fail;
            if (error is null)
            {
                _errors.Remove(node);
            }
            else
            {
                _errors[node] = error;
            }
        }
    }

    /// <summary>Dials to <paramref name="node"/> wait until <see cref="Release"/> or cancellation.</summary>
    public void Hang(NodeName node) => SetMode(node, DialMode.Hang);

    /// <summary>Lets the hanging dials to <paramref name="node"/> (and later ones) succeed.</summary>
    public void Release(NodeName node) => Release(node, DialMode.Succeed);

    /// <summary>Makes the hanging dials to <paramref name="node"/> (and later ones) fail as <see cref="Fail"/> does.</summary>
    public void ReleaseFailing(NodeName node) => Release(node, DialMode.Fail);

    public void ReleaseAll()
    {
        NodeName[] hanging;
        lock (_gate)
        {
            hanging = [.. _hangs.Keys];
        }

        foreach (var node in hanging)
        {
            Release(node);
        }
    }

    public bool IsConnected(NodeName node)
    {
        lock (_gate)
        {
            return _connected.Contains(node);
        }
    }

    public async Task ConnectAsync(NodeAddress address, CancellationToken cancellationToken)
    {
        DialMode mode;
        TaskCompletionSource? hang = null;
        lock (_gate)
        {
            if (_connected.Contains(address.Name))
            {
                return;
            }

            _dials.Add(new DialRecord(address, time.GetUtcNow()));
            _maxInFlight = Math.Max(_maxInFlight, ++_inFlight);
            mode = _modes.GetValueOrDefault(address.Name);
            if (mode == DialMode.Hang)
            {
                if (!_hangs.TryGetValue(address.Name, out hang))
                {
                    hang = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _hangs.Add(address.Name, hang);
                }
            }
        }

        Exception? error;
        try
        {
            if (hang is not null)
            {
                await hang.Task.WaitAsync(cancellationToken);
            }
        }
        finally
        {
            // Out of flight before the outcome is visible, so a test that sees it also sees the count drop.
            Interlocked.Decrement(ref _inFlight);
        }

        lock (_gate)
        {
            // A released hang ends the way the release said.
            if (hang is not null)
            {
                mode = _modes.GetValueOrDefault(address.Name);
            }

            error = _errors.GetValueOrDefault(address.Name);
        }

        if (mode == DialMode.Fail)
        {
            throw error ?? new ClusterConnectException(address, "refused", "connection refused (fake)");
        }

        MarkUp(address.Name);
    }

    public Task DisconnectAsync(NodeName node, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _disconnects.Add(node);
        }

        MarkDown(node, DisconnectReasons.Disconnect);
        return Task.CompletedTask;
    }

    public async IAsyncEnumerable<MembershipChange> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var channel = Channel.CreateUnbounded<MembershipChange>();
        lock (_gate)
        {
            foreach (var node in _connected)
            {
                channel.Writer.TryWrite(Up(node));
            }

            _watchers.Add(channel);
        }

        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken))
            {
                yield return change;
            }
        }
        finally
        {
            lock (_gate)
            {
                _watchers.Remove(channel);
            }
        }
    }

    /// <summary>The node is connected (dialled by us, or it dialled us).</summary>
    public void MarkUp(NodeName node)
    {
        lock (_gate)
        {
            if (_connected.Add(node))
            {
                Publish(Up(node));
            }
        }
    }

    /// <summary>The connection to the node is gone.</summary>
    public void MarkDown(NodeName node, string reason = DisconnectReasons.ConnectionClosed)
    {
        lock (_gate)
        {
            if (_connected.Remove(node))
            {
                Publish(new MembershipChange(MembershipChangeKind.NodeDown, node, 1, reason));
            }
        }
    }

    private static MembershipChange Up(NodeName node) => new(MembershipChangeKind.NodeUp, node, 1, string.Empty);

    // Caller holds _gate, so every watcher sees the changes in the same order.
    private void Publish(MembershipChange change)
    {
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(change);
        }
    }

    private void SetMode(NodeName node, DialMode mode)
    {
        lock (_gate)
        {
            _modes[node] = mode;
        }
    }

    private void Release(NodeName node, DialMode outcome)
    {
        TaskCompletionSource? hang;
        lock (_gate)
        {
            _modes[node] = outcome;
            _hangs.Remove(node, out hang);
        }

        hang?.TrySetResult();
    }
}

internal sealed record DialRecord(NodeAddress Address, DateTimeOffset At);
