using System.Globalization;
using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// A private test LAN (<see cref="NetworkNamespaceLan"/>: one namespace per host, veths on a bridge) whose hosts run
/// test node processes, each on its own address and the default port, each with a <c>Static</c> topology that lists
/// every host of the LAN — also the hosts on which the test runs an in-process <see cref="NamespaceNode"/> instead.
/// Disposing stops every process (gracefully, killed after 5 s), then deletes the namespaces, which removes their
/// veths, bridge and iptables rules.
/// </summary>
internal sealed class LanNodes : IAsyncDisposable
{
    public const int Port = 9001;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly NetworkNamespaceLan _lan;
    private readonly NodeProcess?[] _processes;
    private readonly Dictionary<(int From, int To), int> _dialPorts = [];
    private readonly TimeSpan? _tickTime;

    private LanNodes(NetworkNamespaceLan lan, TimeSpan? tickTime)
    {
        _lan = lan;
        _tickTime = tickTime;
        _processes = new NodeProcess?[lan.Hosts.Count];
    }

    /// <param name="hosts">How many hosts the LAN has.</param>
    /// <param name="tickTime">The nodes' TickTime; null keeps the default (15 s).</param>
    public static async Task<LanNodes> CreateAsync(int hosts, TimeSpan? tickTime)
    {
        var lan = await NetworkNamespaceLan.CreateAsync(hosts).WaitAsync(Timeout);
        return new LanNodes(lan, tickTime);
    }

    public LanHost Host(int index) => _lan.Hosts[index];

    /// <summary>The node name of host <paramref name="index"/>: <c>n{index}@{its address}</c>.</summary>
    public string Name(int index) => $"n{index.ToString(CultureInfo.InvariantCulture)}@{Host(index).IPv4}";

    public NodeProcess this[int index] => _processes[index] ?? throw new InvalidOperationException($"No process runs on host {index}.");

    /// <summary>Makes the node on host <paramref name="from"/> dial host <paramref name="to"/> at another port (a relay's).</summary>
    public void SetDialPort(int from, int to, int port) => _dialPorts[(from, to)] = port;

    /// <summary>Starts the node process of host <paramref name="index"/> (again, after a kill: same name, new creation).</summary>
    public NodeProcess Start(int index)
    {
        if (_processes[index] is { HasExited: false })
        {
            throw new InvalidOperationException($"Host {index} already runs {_processes[index]!.Name}.");
        }

        var settings = new Dictionary<string, string>
        {
            ["LibCluster__Node__Cookie"] = TestNode.Cookie,
            ["LibCluster__Node__ListenAddress"] = Host(index).IPv4,
            ["LibCluster__Node__Port"] = Port.ToString(CultureInfo.InvariantCulture),
            ["LibCluster__Topologies__lan__Strategy"] = "Static",
        };
        if (_tickTime is { } tickTime)
        {
            settings["LibCluster__Node__TickTime"] = tickTime.ToString("c", CultureInfo.InvariantCulture);
        }

        for (var i = 0; i < _lan.Hosts.Count; i++)
        {
            var port = _dialPorts.TryGetValue((index, i), out var other) ? other : Port;
            settings[$"LibCluster__Topologies__lan__Config__Nodes__{i.ToString(CultureInfo.InvariantCulture)}"] = $"{Name(i)}:{port.ToString(CultureInfo.InvariantCulture)}";
        }

        var process = NodeProcess.Start(Name(index), settings, Host(index).Namespace.CommandPrefix);
        _processes[index] = process;
        return process;
    }

    public Task<string> WaitListeningAsync(int index) =>
        this[index].WaitForLineAsync(l => l.StartsWith("LISTENING", StringComparison.Ordinal), Timeout, "it listens");

    /// <summary>Waits until the process on host <paramref name="index"/> reports exactly the given hosts' nodes as connected.</summary>
    public async Task WaitConnectedAsync(int index, IEnumerable<int> peers, TimeSpan? timeout = null)
    {
        var process = this[index];
        var expected = peers.Select(Name).ToHashSet();
        await Eventually.TrueAsync(
            () => process.ConnectedNodes().SetEquals(expected) || process.HasExited,
            timeout ?? Timeout,
            $"{process.Name} is connected to exactly {string.Join(", ", expected)}",
            () => $"connected to [{string.Join(", ", process.ConnectedNodes())}]\nOutput:\n{string.Join('\n', process.Lines)}\nLog:\n{process.Log}");

        process.HasExited.Should().BeFalse($"{process.Name} must keep running; log:\n{process.Log}");
    }

    /// <summary>
    /// Kills the process of host <paramref name="index"/> with SIGKILL (no goodbye, no cleanup) and waits until it is
    /// gone; keep a reference to it first to read its output afterwards.
    /// </summary>
    public async Task KillAsync(int index)
    {
        var process = this[index];
        process.Kill();
        await Eventually.TrueAsync(() => process.HasExited, Timeout, $"{process.Name} has exited after SIGKILL");
        _processes[index] = null;
        await process.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Task.WhenAll(_processes.OfType<NodeProcess>().Select(p => p.DisposeAsync().AsTask())).WaitAsync(Timeout);
        }
        finally
        {
            await _lan.DisposeAsync();
        }
    }
}
