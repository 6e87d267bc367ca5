using System.Net;
using System.Net.Sockets;
using LibCluster.Diagnostics;
using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;
using LibCluster.Topology;
using Microsoft.Extensions.Logging;

namespace LibCluster.IntegrationTests.Gossip;

/// <summary>
/// A gossip strategy running in the test process with real UDP sockets created inside a test network namespace.
/// Records every set it yields and counts its dropped packets by reason (from the metric, for its topology only, by the
/// <see cref="GossipDropCounter"/> the unit tests' GossipHarness uses too).
/// </summary>
internal sealed class GossipPeer : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly CancellationTokenSource _stop = new();
    private readonly List<IReadOnlySet<NodeAddress>> _sets = [];
    private readonly string _topology = $"gossip-{Guid.NewGuid():N}";
    private readonly GossipDropCounter _drops;
    private readonly Task _watching;

    private GossipPeer(NetworkNamespace space, NodeName name, int port, GossipStrategyOptions options, LogCollector logs)
    {
        Name = name;
        Port = port;
        Logs = logs;
        _drops = new GossipDropCounter(_topology);
        var metrics = new ClusterMetrics(null);

        var strategy = new GossipStrategy(options, NodeCreation.NewCreation(), o => space.Run<IGossipTransport>(() => UdpGossipTransport.Open(o)));
        var context = new TopologyContext
        {
            TopologyName = _topology,
            Self = name,
            DefaultPort = port,
            TimeProvider = TimeProvider.System,
            Logger = logs.Factory.CreateLogger($"gossip.{name}"),
            Metrics = metrics,
        };
        _watching = Task.Run(async () =>
        {
            await foreach (var set in strategy.WatchAsync(context, _stop.Token))
            {
                lock (_sets)
                {
                    _sets.Add(set);
                }
            }
        });
    }

    public NodeName Name { get; }

    public int Port { get; }

    public LogCollector Logs { get; }

    /// <summary>The last set yielded (empty before the first).</summary>
    public IReadOnlySet<NodeAddress> Current
    {
        get
        {
            lock (_sets)
            {
                return _sets.Count == 0 ? new HashSet<NodeAddress>() : _sets[^1];
            }
        }
    }

    /// <summary>Every set yielded so far, in order.</summary>
    public IReadOnlyList<IReadOnlySet<NodeAddress>> History
    {
        get
        {
            lock (_sets)
            {
                return [.. _sets];
            }
        }
    }

    public static GossipPeer Start(NetworkNamespace space, string name, int port, GossipStrategyOptions options) =>
        new(space, NodeName.Parse(name), port, options, new LogCollector());

    public long Dropped(string reason) => _drops.Dropped(reason);

    /// <summary>Waits until the current set satisfies <paramref name="condition"/>; fails with the history and the log.</summary>
    public async Task WaitForSetAsync(Func<IReadOnlySet<NodeAddress>, bool> condition, TimeSpan timeout, string because)
    {
        await Eventually.TrueAsync(() => condition(Current) || _watching.IsCompleted, timeout, because, Describe);
        if (_watching.IsCompleted)
        {
            await _watching;
            throw new InvalidOperationException($"{Name}: the enumeration ended. {Describe()}");
        }
    }

    public Task WaitForDropsAsync(string reason, long count, TimeSpan timeout) =>
        Eventually.TrueAsync(() => Dropped(reason) >= count, timeout, $"{Name} dropped {count} packets as {reason}", () => $"dropped {Dropped(reason)}; {Describe()}");

    public string Describe() =>
        $"{Name} sets: [{string.Join(" | ", History.Select(s => string.Join(", ", s.Select(n => $"{n.Name}:{n.Port}"))))}]; log:\n{string.Join('\n', Logs.Entries.TakeLast(30))}";

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _watching.WaitAsync(StopTimeout);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _drops.Dispose();
        Logs.Factory.Dispose();
    }
}

/// <summary>A raw UDP socket in a test namespace, joined to a gossip group: it captures heartbeats and sends anything.</summary>
internal sealed class GossipProbe : IDisposable
{
    private readonly Socket _socket;
    private readonly IPEndPoint _group;

    private GossipProbe(Socket socket, IPEndPoint group)
    {
        _socket = socket;
        _group = group;
    }

    public static GossipProbe Open(NetworkNamespace space, string group, int port, string local) => space.Run(() =>
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            var address = IPAddress.Parse(group);
            var localAddress = IPAddress.Parse(local);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(new IPEndPoint(address, port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, new MulticastOption(address, localAddress));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, localAddress.GetAddressBytes());
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            return new GossipProbe(socket, new IPEndPoint(address, port));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    });

    public Task SendAsync(byte[] packet) => _socket.SendToAsync(packet, SocketFlags.None, _group).WaitAsync(TimeSpan.FromSeconds(5));

    /// <summary>Receives datagrams until one satisfies <paramref name="predicate"/>.</summary>
    public async Task<byte[]> CaptureAsync(Func<byte[], bool> predicate, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[65536];
        while (true)
        {
            var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
            var packet = buffer[..result.ReceivedBytes];
            if (predicate(packet))
            {
                return packet;
            }
        }
    }

    public void Dispose() => _socket.Dispose();
}
