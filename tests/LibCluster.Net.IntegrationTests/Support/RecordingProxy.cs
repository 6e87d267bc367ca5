using System.Net;
using System.Net.Sockets;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A loopback TCP proxy in front of a node that records what each client sent: the way to capture a real initiator's
/// handshake bytes (a wiretap on the path), to replay them later. Forwards both directions unchanged.
/// </summary>
internal sealed class RecordingProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Recording> _connections = [];
    private readonly List<Task> _tasks = [];
    private readonly Task _accepting;

    private RecordingProxy(IPEndPoint target)
    {
        _target = target;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    public static RecordingProxy Start(IPEndPoint target) => new(target);

    /// <summary>Everything the <paramref name="index"/>th client has sent so far (towards the node).</summary>
    public byte[] Upstream(int index)
    {
        lock (_connections)
        {
            return _connections[index].Upstream();
        }
    }

    public int Connections
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count;
            }
        }
    }

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptAsync(_stop.Token);
                var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                await server.ConnectAsync(_target, _stop.Token);
                var recording = new Recording(client, server);
                lock (_connections)
                {
                    _connections.Add(recording);
                    _tasks.Add(PumpAsync(client, server, recording));
                    _tasks.Add(PumpAsync(server, client, null));
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
    }

    private async Task PumpAsync(Socket from, Socket to, Recording? recording)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    break;
                }

                recording?.Add(buffer.AsSpan(0, read));
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }

        try
        {
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        Task[] tasks;
        lock (_connections)
        {
            foreach (var connection in _connections)
            {
                connection.Dispose();
            }

            tasks = [.. _tasks, _accepting];
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private sealed class Recording(Socket client, Socket server) : IDisposable
    {
        private readonly List<byte> _upstream = [];

        public void Add(ReadOnlySpan<byte> bytes)
        {
            lock (_upstream)
            {
                _upstream.AddRange(bytes);
            }
        }

        public byte[] Upstream()
        {
            lock (_upstream)
            {
                return [.. _upstream];
            }
        }

        public void Dispose()
        {
            client.Dispose();
            server.Dispose();
        }
    }
}
