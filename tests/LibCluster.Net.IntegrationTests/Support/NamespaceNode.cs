using System.Diagnostics;
using System.Net;
using LibCluster.Diagnostics;
using LibCluster.Mesh;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A real node inside the test process (connection manager, mailboxes, cluster API, no hosting) whose listener is
/// created inside a test network namespace, on an address of that namespace: nodes of the test LAN reach it as they
/// would reach a process on that host, and the test drives it directly (requests, mailboxes, membership).
/// </summary>
/// <remarks>
/// Only the listener is switched into the namespace (a socket keeps its namespace for life, and accepted sockets
/// inherit it). The node's own dials run on pool threads in the test process's namespace, where the LAN does not
/// exist, so it is a node that is dialled and never dials: give it no topology and let the others list it.
/// </remarks>
internal sealed class NamespaceNode : IAsyncDisposable
{
    private NamespaceNode(ConnectionManager manager, MailboxRegistry mailboxes, Cluster cluster, ChangeLog changes)
    {
        Manager = manager;
        Mailboxes = mailboxes;
        Cluster = cluster;
        Changes = changes;
    }

    public ConnectionManager Manager { get; }

    public MailboxRegistry Mailboxes { get; }

    public Cluster Cluster { get; }

    public NodeName Name => Manager.Self;

    /// <summary>Every membership change this node reported since it started.</summary>
    public ChangeLog Changes { get; }

    public static NamespaceNode Start(NetworkNamespace space, string name, string address, int port, TimeSpan tickTime, ILoggerFactory? loggers = null)
    {
        ArgumentNullException.ThrowIfNull(space);
        loggers ??= NullLoggerFactory.Instance;
        var settings = new MeshSettings
        {
            Name = NodeName.Parse(name),
            Cookie = TestNode.Cookie,
            ListenAddress = IPAddress.Parse(address),
            Port = port,
            TickTime = tickTime,
        };
        var manager = new ConnectionManager(settings, TimeProvider.System, new ClusterMetrics(null), loggers.CreateLogger<ConnectionManager>());
        var mailboxes = new MailboxRegistry(settings.Name, loggers.CreateLogger<MailboxRegistry>());
        var cluster = new Cluster(manager, mailboxes, TimeProvider.System);
        var changes = ChangeLog.Start(name, cluster);
        try
        {
            space.Run(() =>
            {
                manager.Start(mailboxes);
                return true;
            });
        }
        catch
        {
            manager.Dispose();
            mailboxes.Dispose();
            throw;
        }

        return new NamespaceNode(manager, mailboxes, cluster, changes);
    }

    public async ValueTask DisposeAsync()
    {
        await Manager.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        await Mailboxes.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(15));
        await Changes.DisposeAsync();
    }
}

/// <summary>
/// Records every membership change of a cluster with the <see cref="Stopwatch"/> timestamp of its arrival, from the
/// moment <see cref="Start"/> returns (the watch registers synchronously there: arm it, then trigger).
/// </summary>
internal sealed class ChangeLog : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<RecordedChange> _changes = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _owner;
    private Task _loop = Task.CompletedTask;

    private ChangeLog(string owner)
    {
        _owner = owner;
    }

    public static ChangeLog Start(string owner, ICluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var log = new ChangeLog(owner);
        log._loop = log.RunAsync(cluster.WatchAsync(log._stop.Token));
        return log;
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _changes.Count;
            }
        }
    }

    public IReadOnlyList<RecordedChange> Snapshot(int from = 0)
    {
        lock (_gate)
        {
            return _changes.Skip(from).ToArray();
        }
    }

    public IReadOnlyList<RecordedChange> For(NodeName node, int from = 0) => Snapshot(from).Where(c => c.Node == node).ToArray();

    public string Describe(int from = 0) => $"{_owner} saw [{string.Join("; ", Snapshot(from))}]";

    /// <summary>Waits for the first change at or after index <paramref name="from"/> that matches.</summary>
    public async Task<RecordedChange> WaitForAsync(Func<MembershipChange, bool> predicate, TimeSpan timeout, string because, int from = 0)
    {
        RecordedChange? found = null;
        await Eventually.TrueAsync(
            () =>
            {
                found = Snapshot(from).Select(c => (RecordedChange?)c).FirstOrDefault(c => predicate(c!.Value.Change));
                return found is not null;
            },
            timeout,
            because,
            () => Describe(from));
        return found!.Value;
    }

    private async Task RunAsync(IAsyncEnumerable<MembershipChange> changes)
    {
        try
        {
            await foreach (var change in changes)
            {
                lock (_gate)
                {
                    _changes.Add(new RecordedChange(change, Stopwatch.GetTimestamp()));
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
