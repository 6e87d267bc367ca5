using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A TCP relay that adds latency (this kernel has no netem): it accepts on <see cref="EndPoint"/>, dials
/// <c>target</c> for each connection, and forwards both directions, each chunk it reads leaving a fixed
/// <c>delay</c> after it arrived, in order. Its sockets are created inside a test network namespace when one is given
/// (a socket keeps its namespace for life), so it can stand between two nodes of a test LAN. Memory is bounded: at
/// most <see cref="MaxChunksInFlight"/> chunks per direction wait for their time, after which the relay stops reading
/// and TCP pushes back on the sender. Disposing closes every socket and waits for its loops.
/// </summary>
internal sealed class DelayingRelay : IAsyncDisposable
{
    public const int MaxChunksInFlight = 256;
    private const int ChunkBytes = 16 * 1024;
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly NetworkNamespace? _upstreamSpace;
    private readonly IPEndPoint _target;
    private readonly TimeSpan _delay;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly List<Socket> _sockets = [];
    private Task _acceptLoop = Task.CompletedTask;
    private long _bytesForwarded;
    private int _connections;
    private int _disposed;

    private DelayingRelay(Socket listener, NetworkNamespace? upstreamSpace, IPEndPoint target, TimeSpan delay)
    {
        _listener = listener;
        _upstreamSpace = upstreamSpace;
        _target = target;
        _delay = delay;
        EndPoint = (IPEndPoint)listener.LocalEndPoint!;
    }

    /// <summary>Where the relay accepts.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Bytes forwarded so far, both directions together.</summary>
    public long BytesForwarded => Interlocked.Read(ref _bytesForwarded);

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <param name="space">The namespace whose network the relay's sockets use; null for the test process's own (loopback only).</param>
    /// <param name="listen">The address and port to accept on (port 0: any free one).</param>
    /// <param name="target">Where each accepted connection is relayed to.</param>
    /// <param name="delay">The latency added to each direction.</param>
    public static DelayingRelay Start(NetworkNamespace? space, IPEndPoint listen, IPEndPoint target, TimeSpan delay) =>
        Start(space, listen, space, target, delay);

    /// <summary>
    /// A relay whose two sides are in different networks: it accepts in <paramref name="listenSpace"/> and dials from
    /// <paramref name="upstreamSpace"/>. With the test process's own namespace (null) on the accepting side and a host
    /// of a test LAN on the other, an in-process node on loopback can dial a node of the LAN as if from that host.
    /// </summary>
    public static DelayingRelay Start(NetworkNamespace? listenSpace, IPEndPoint listen, NetworkNamespace? upstreamSpace, IPEndPoint target, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentNullException.ThrowIfNull(target);
        var listener = InNamespace(listenSpace, () =>
        {
            var socket = new Socket(listen.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(listen);
                socket.Listen(64);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        });
        var relay = new DelayingRelay(listener, upstreamSpace, target, delay);
        relay._acceptLoop = relay.AcceptLoopAsync();
        return relay;
    }

    private static T InNamespace<T>(NetworkNamespace? space, Func<T> create) => space is null ? create() : space.Run(create);

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _connections);
            Track(client, RelayAsync(client));
        }
    }

    private async Task RelayAsync(Socket client)
    {
        var upstream = InNamespace(_upstreamSpace, () => new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true });
        client.NoDelay = true;
        Track(upstream, null);
        try
        {
            using var connect = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            connect.CancelAfter(TimeSpan.FromSeconds(10));
            await upstream.ConnectAsync(_target, connect.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            client.Dispose();
            upstream.Dispose();
            return;
        }

        // When one direction ends (or fails), the other is torn down too: a relay holds no half-open connections.
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var pumps = new[] { PumpAsync(client, upstream, connection.Token), PumpAsync(upstream, client, connection.Token) };
        await Task.WhenAny(pumps);
        await connection.CancelAsync();
        client.Dispose();
        upstream.Dispose();
        await Task.WhenAll(pumps);
    }

    /// <summary>Reads chunks from <paramref name="from"/> and writes each to <paramref name="to"/> once its delay has passed.</summary>
    private async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        var chunks = Channel.CreateBounded<(long Due, byte[] Bytes, int Length)>(new BoundedChannelOptions(MaxChunksInFlight) { SingleReader = true, SingleWriter = true });
        var writing = WriteDelayedAsync(chunks.Reader, to, cancellationToken);
        try
        {
            while (true)
            {
                var buffer = new byte[ChunkBytes];
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    break;
                }

                var due = Stopwatch.GetTimestamp() + (long)(_delay.TotalSeconds * Stopwatch.Frequency);
                await chunks.Writer.WriteAsync((due, buffer, read), cancellationToken);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            chunks.Writer.TryComplete();
        }

        await writing;
    }

    private async Task WriteDelayedAsync(ChannelReader<(long Due, byte[] Bytes, int Length)> chunks, Socket to, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var (due, bytes, length) in chunks.ReadAllAsync(cancellationToken))
            {
                // The latency being injected, not a stand-in for a condition.
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken);
                }

                var sent = 0;
                while (sent < length)
                {
                    sent += await to.SendAsync(bytes.AsMemory(sent, length - sent), SocketFlags.None, cancellationToken);
                }

                Interlocked.Add(ref _bytesForwarded, length);
            }

            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private void Track(Socket socket, Task? loop)
    {
        lock (_loops)
        {
            _sockets.Add(socket);
            if (loop is not null)
            {
                _loops.Add(loop);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Dispose();
        Task[] loops;
        lock (_loops)
        {
            foreach (var socket in _sockets)
            {
                socket.Dispose();
            }

            loops = [.. _loops, _acceptLoop];
        }

        await Task.WhenAll(loops).WaitAsync(StopTimeout);
        _stop.Dispose();
    }
}
