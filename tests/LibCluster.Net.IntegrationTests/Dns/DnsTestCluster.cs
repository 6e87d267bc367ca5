using System.Diagnostics.Metrics;
using System.Globalization;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LibCluster.IntegrationTests.Dns;

/// <summary>
/// Whole hosts built with AddLibCluster, as an application would, for the DNS tests: each on the loopback address
/// and port it is given, with a <c>Dns</c> or <c>DnsSrv</c> topology or with none (a passive node that only accepts).
/// </summary>
internal sealed class DnsTestCluster : IAsyncDisposable
{
    /// <summary>The polling interval the tests use, short so that they are quick.</summary>
    public static readonly TimeSpan PollingInterval = TimeSpan.FromMilliseconds(200);

    private static readonly TimeSpan StartStopTimeout = TimeSpan.FromSeconds(30);
    private static int s_nextBlock = 9;

    private readonly List<IHost> _hosts = [];
    private readonly List<MembershipLog> _logs = [];
    private readonly MeterListener _listener = new();
    private long _discoveryErrors;

    public DnsTestCluster()
    {
        // A name of its own, so that the error counter sees only this test's topologies.
        TopologyName = $"dns-{Guid.NewGuid():N}"[..12];
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "LibCluster.Net" && instrument.Name == "libcluster.discovery.errors")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "topology" && (string?)tag.Value == TopologyName)
                {
                    Interlocked.Add(ref _discoveryErrors, value);
                }
            }
        });
        _listener.Start();
    }

    public string TopologyName { get; }

    /// <summary>Failed discovery polls of this cluster's topologies, summed over its hosts.</summary>
    public long DiscoveryErrors => Interlocked.Read(ref _discoveryErrors);

    /// <summary>
    /// A block of loopback addresses no other test uses (127.0.N.0/24), so that nodes of one test can share a port
    /// on addresses of their own.
    /// </summary>
    public static string LoopbackBlock() => $"127.0.{Interlocked.Increment(ref s_nextBlock).ToString(CultureInfo.InvariantCulture)}.";

    /// <summary>Starts a node named <paramref name="name"/> listening on <paramref name="address"/>:<paramref name="port"/>.</summary>
    /// <param name="strategy"><c>Dns</c>, <c>DnsSrv</c>, or null for a node without topologies.</param>
    public async Task<Node> StartNodeAsync(string name, string address, int port, string? strategy = null, string? query = null, DnsmasqServer? server = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = name,
            ["LibCluster:Node:Cookie"] = TestNode.Cookie,
            ["LibCluster:Node:ListenAddress"] = address,
            ["LibCluster:Node:Port"] = port.ToString(CultureInfo.InvariantCulture),
        };
        if (strategy is not null)
        {
            var topology = $"LibCluster:Topologies:{TopologyName}";
            settings[$"{topology}:Strategy"] = strategy;
            settings[$"{topology}:Config:Query"] = query;
            settings[$"{topology}:Config:NameServer"] = server!.NameServer;
            settings[$"{topology}:Config:PollingInterval"] = PollingInterval.ToString("c", CultureInfo.InvariantCulture);
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"));
        var host = builder.Build();
        _hosts.Add(host);
        await host.StartAsync().WaitAsync(StartStopTimeout);
        var cluster = host.Services.GetRequiredService<ICluster>();
        var log = MembershipLog.Start(cluster);
        _logs.Add(log);
        return new Node(cluster, log);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var log in _logs)
        {
            await log.DisposeAsync();
        }

        await Task.WhenAll(_hosts.Select(h => h.StopAsync())).WaitAsync(StartStopTimeout);
        _hosts.ForEach(h => h.Dispose());
        _listener.Dispose();
    }

    /// <summary>A running node: its cluster API and what it has seen.</summary>
    internal sealed record Node(ICluster Cluster, MembershipLog Log)
    {
        public NodeName Name => Cluster.Self;

        public IEnumerable<string> Connected => Cluster.ConnectedNodes.Select(n => n.Value).Order(StringComparer.Ordinal);

        /// <summary>Waits until exactly <paramref name="expected"/> are connected.</summary>
        public Task WaitConnectedAsync(TimeSpan timeout, params Node[] expected)
        {
            var names = expected.Select(n => n.Name.Value).Order(StringComparer.Ordinal).ToArray();
            return Eventually.TrueAsync(
                () => Connected.SequenceEqual(names),
                timeout,
                $"{Name} is connected to exactly [{string.Join(", ", names)}]",
                () => $"it is connected to [{string.Join(", ", Connected)}]; it saw [{string.Join("; ", Log.Snapshot())}]");
        }

        /// <summary>Waits until this node has seen <paramref name="other"/> go down (its watcher lags the connection table a little).</summary>
        public Task WaitDownAsync(TimeSpan timeout, Node other) =>
            Eventually.TrueAsync(
                () => Log.Downs().Any(d => d.Node == other.Name),
                timeout,
                $"{Name} has seen {other.Name} go down",
                () => $"it saw [{string.Join("; ", Log.Snapshot())}]");
    }
}

/// <summary>Records every membership change a cluster reports, from the moment it is started.</summary>
internal sealed class MembershipLog : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly List<MembershipChange> _changes = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    public static MembershipLog Start(ICluster cluster)
    {
        var log = new MembershipLog();
        log._loop = log.RunAsync(cluster.WatchAsync(log._stop.Token));
        return log;
    }

    public IReadOnlyList<MembershipChange> Snapshot()
    {
        lock (_gate)
        {
            return [.. _changes];
        }
    }

    public IReadOnlyList<MembershipChange> Downs() => Snapshot().Where(c => c.Kind == MembershipChangeKind.NodeDown).ToArray();

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
