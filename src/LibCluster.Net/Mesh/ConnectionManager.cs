using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LibCluster.Diagnostics;
using LibCluster.Mesh.Handshake;
using LibCluster.Mesh.Transport;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.Mesh;

/// <summary>
/// Keeps at most one authenticated connection per peer: listens, dials, runs handshakes, settles simultaneous
/// connects and restarted peers, ticks, and tells watchers about nodes coming up and going down, in order.
/// </summary>
internal sealed partial class ConnectionManager : IAsyncDisposable, IDisposable
{
    // Event ids of the warnings that are throttled per address (their summaries are event 1009).
    private const int InboundHandshakeFailedEvent = 1004;
    private const int TooManyHandshakesEvent = 1006;

    private readonly MeshSettings _settings;
    private readonly TimeProvider _time;
    private readonly ClusterMetrics _metrics;
    private readonly ILogger _logger;
    private readonly HandshakeProtocol _handshake;
    private readonly object _gate = new();
    private readonly Dictionary<NodeName, PeerState> _peers = [];

    // The active connection of every connected node, which every reader uses (lock-free); written only under _gate,
    // by Attach and Detach, together with PeerState.Active, which the connection rules decide on.
    private readonly ConcurrentDictionary<NodeName, PeerConnection> _active = new();
    private readonly List<Channel<MembershipChange>> _watchers = [];
    private readonly SemaphoreSlim _handshakeSlots;
    private readonly AuthFailureLimiter _authFailures;
    private readonly AddressWarningThrottle _failedHandshakeWarnings;
    private readonly AddressWarningThrottle _tooManyHandshakesWarnings;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _background = [];
    private IInboundMessageSink? _sink;
    private Socket? _listener;
    private ITimer? _tickTimer;
    private Task _acceptLoop = Task.CompletedTask;
    private int _disposed;

    public ConnectionManager(MeshSettings settings, TimeProvider time, ClusterMetrics metrics, ILogger<ConnectionManager> logger)
    {
        _settings = settings;
        _time = time;
        _metrics = metrics;
        _logger = logger;
        _handshake = new HandshakeProtocol(settings.Cookie, settings.Name, settings.Creation, acceptedCookies: settings.AcceptedCookies);
        _handshakeSlots = new SemaphoreSlim(settings.MaxPendingHandshakes, settings.MaxPendingHandshakes);
        _authFailures = new AuthFailureLimiter(time);
        _failedHandshakeWarnings = new AddressWarningThrottle(time, logger, InboundHandshakeFailedEvent);
        _tooManyHandshakesWarnings = new AddressWarningThrottle(time, logger, TooManyHandshakesEvent);
    }

    public NodeName Self => _settings.Name;

    public uint Creation => _settings.Creation;

    /// <summary>The endpoint the listener is bound to (its real port when 0 was asked for).</summary>
    public IPEndPoint? ListenEndPoint { get; private set; }

    /// <summary>Connections handshaking right now (inbound); bounded by <see cref="MeshSettings.MaxPendingHandshakes"/>.</summary>
    public int PendingInboundHandshakes => _settings.MaxPendingHandshakes - _handshakeSlots.CurrentCount;

    private sealed class PeerState
    {
        public PeerConnection? Active;
        public Task? PendingDial;
    }

    /// <summary>Binds the listener (a port conflict throws here) and starts accepting and ticking.</summary>
    public void Start(IInboundMessageSink sink)
    {
        _sink = sink;
        var endPoint = new IPEndPoint(_settings.ListenAddress, _settings.Port);
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6 && endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(endPoint);
            listener.Listen(512);
        }
        catch (SocketException ex)
        {
            listener.Dispose();
            throw new ClusterException(
                $"LibCluster:Node:Port: cannot listen on {endPoint}: {ex.Message} (is another node or program using port {_settings.Port}?)", ex);
        }

        _listener = listener;
        ListenEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        var interval = _settings.TickTime / 4;
        _tickTimer = _time.CreateTimer(_ => Tick(), null, interval, interval);
        _acceptLoop = AcceptLoopAsync(listener);
        LogListening(_logger, Self, ListenEndPoint);
    }

    public IReadOnlyCollection<NodeName> ConnectedNodes => [.. _active.Keys];

    public bool IsConnected(NodeName node) => _active.ContainsKey(node);

    /// <summary>The live connection to <paramref name="node"/>, or null. Lock-free: every send asks.</summary>
    public PeerConnection? GetConnection(NodeName node) => _active.TryGetValue(node, out var connection) ? connection : null;

    public PeerConnection[] GetConnections() => [.. _active.Values];

    /// <summary>
    /// Membership changes from now on, in the order they happened, beginning with a NodeUp for every node
    /// connected at the moment of the call (so a watcher never misses a node).
    /// </summary>
    public async IAsyncEnumerable<MembershipChange> WatchAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var channel = Channel.CreateUnbounded<MembershipChange>(new UnboundedChannelOptions { SingleReader = true });
        lock (_gate)
        {
            foreach (var (name, state) in _peers)
            {
                if (state.Active is { } active)
                {
                    channel.Writer.TryWrite(new MembershipChange(MembershipChangeKind.NodeUp, name, active.PeerCreation, string.Empty));
                }
            }

            if (Volatile.Read(ref _disposed) != 0)
            {
                channel.Writer.TryComplete();
            }
            else
            {
                _watchers.Add(channel);
            }
        }

        try
        {
            await foreach (var change in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
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

    /// <summary>
    /// Makes sure there is a connection to <paramref name="address"/>: returns at once when there is one, joins a
    /// dial already under way, or dials. Throws <see cref="ClusterConnectException"/> when it cannot connect.
    /// </summary>
    public async Task ConnectAsync(NodeAddress address, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.Name == Self)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Task dial;
        lock (_gate)
        {
            var state = GetState(address.Name);
            if (state.Active is not null)
            {
                return;
            }

            if (state.PendingDial is null || state.PendingDial.IsCompleted)
            {
                state.PendingDial = Track(DialAsync(address));
            }

            dial = state.PendingDial;
        }

        await dial.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection to <paramref name="node"/>, telling it why. Returns false when there was none.</summary>
    public async Task<bool> DisconnectAsync(NodeName node, string reason = DisconnectReasons.Disconnect)
    {
        PeerConnection? connection;
        lock (_gate)
        {
            if (!_peers.TryGetValue(node, out var state) || state.Active is null)
            {
                return false;
            }

            connection = state.Active;
            Detach(state, connection, reason);
        }

        await connection.CloseAsync(reason, sendGoodbye: true).ConfigureAwait(false);
        return true;
    }

    private async Task DialAsync(NodeAddress address)
    {
        await Task.Yield();
        _metrics.ConnectionAttempt();
        SocketPipe? pipe = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_settings.ConnectTimeout + _settings.HandshakeTimeout);
            var socket = await OpenSocketAsync(address, timeout.Token).ConfigureAwait(false);
            pipe = await NewPipeAsync(socket, address.Host, timeout.Token).ConfigureAwait(false);
            var outcome = await _handshake.InitiateAsync(pipe, address.Name, timeout.Token).ConfigureAwait(false);
            if (outcome.Verdict == HandshakeVerdict.Ok)
            {
                var connection = NewConnection(pipe, outcome, dialledBySelf: true);
                pipe = null;
                Establish(connection);
                return;
            }

            // The peer keeps a connection of its own with us (its dial won, or it holds a live one): wait for it.
            await pipe.DisposeAsync().ConfigureAwait(false);
            pipe = null;
            if (!await WaitUntilConnectedAsync(address.Name, _settings.HandshakeTimeout).ConfigureAwait(false))
            {
                var reason = outcome.Verdict == HandshakeVerdict.Nok ? "simultaneous_connect" : "peer_has_connection";
                _metrics.ConnectionFailure(reason);
                throw new ClusterConnectException(address, reason, "the peer kept its own connection with this node, which never arrived.");
            }
        }
        catch (OperationCanceledException ex) when (!_stopping.IsCancellationRequested)
        {
            _metrics.ConnectionFailure("timeout");
            throw new ClusterConnectException(address, "timeout", $"no answer within {(_settings.ConnectTimeout + _settings.HandshakeTimeout).TotalSeconds:0.#} s.", ex);
        }
        catch (SocketException ex)
        {
            _metrics.ConnectionFailure("refused");
            throw new ClusterConnectException(address, "refused", ex.Message, ex);
        }
        catch (IOException ex)
        {
            _metrics.ConnectionFailure("connection_closed");
            throw new ClusterConnectException(address, "connection_closed", $"the connection broke during the handshake: {ex.Message}", ex);
        }
        catch (MeshProtocolException ex)
        {
            _metrics.HandshakeFailure(ex.Reason, inbound: false);
            _metrics.ConnectionFailure(ex.Reason);
            LogOutboundHandshakeFailed(_logger, address.Name, address.Host, address.Port, ex.Reason, ex.Message);
            throw new ClusterConnectException(address, ex.Reason, ex.Message, ex);
        }
        finally
        {
            if (pipe is not null)
            {
                await pipe.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<Socket> OpenSocketAsync(NodeAddress address, CancellationToken cancellationToken)
    {
        IPAddress[] addresses = IPAddress.TryParse(address.Host, out var literal)
            ? [literal]
            : await Dns.GetHostAddressesAsync(address.Host, cancellationToken).ConfigureAwait(false);
        SocketException? last = null;
        foreach (var ip in addresses)
        {
            var socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(ip, address.Port), cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private async Task<bool> WaitUntilConnectedAsync(NodeName node, TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        cts.CancelAfter(timeout);
        try
        {
            await foreach (var change in WatchAsync(cts.Token).ConfigureAwait(false))
            {
                if (change.Node == node && change.Kind == MembershipChangeKind.NodeUp)
                {
                    return true;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        return false;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        await Task.Yield();
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                LogAcceptFailed(_logger, ex.Message);
                continue;
            }

            if (_authFailures.RefuseOnArrival(socket.RemoteEndPoint, _metrics, _logger))
            {
                socket.Dispose();
                continue;
            }

            if (!_handshakeSlots.Wait(0))
            {
                _metrics.HandshakeFailure("too_many_handshakes", inbound: true);
                if (_tooManyHandshakesWarnings.ShouldLog(socket.RemoteEndPoint, "too_many_handshakes"))
                {
                    LogTooManyHandshakes(_logger, socket.RemoteEndPoint, _settings.MaxPendingHandshakes);
                }

                socket.Dispose();
                continue;
            }

            socket.NoDelay = true;
            _ = Track(AcceptOneAsync(socket));
        }
    }

    private async Task AcceptOneAsync(Socket socket)
    {
        SocketPipe? pipe = null;
        var remote = socket.RemoteEndPoint;
        PeerConnection? accepted = null;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_settings.HandshakeTimeout);
            pipe = await NewPipeAsync(socket, null, timeout.Token).ConfigureAwait(false);
            await _handshake.AcceptAsync(pipe, outcome => Decide(pipe, outcome, out accepted), timeout.Token).ConfigureAwait(false);
            if (accepted is not null)
            {
                accepted.Start(_sink!);
                pipe = null;
            }
        }
        catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
        {
            _metrics.HandshakeFailure("timeout", inbound: true);
            if (_failedHandshakeWarnings.ShouldLog(remote, "timeout"))
            {
                LogInboundHandshakeFailed(_logger, remote, "timeout", $"the handshake did not finish within {_settings.HandshakeTimeout.TotalSeconds:0.#} s");
            }
        }
        catch (MeshProtocolException ex)
        {
            _metrics.HandshakeFailure(ex.Reason, inbound: true);
            if (ex.Reason is "bad_cookie" or "tls_failed")
            {
                // A failed TLS handshake is a failed authentication too (mutual TLS: no certificate, or one the
                // cluster's CA did not sign), so certificate guessing gets the same cool-down as cookie guessing.
                _authFailures.RecordFailure(remote);
            }

            if (_failedHandshakeWarnings.ShouldLog(remote, ex.Reason))
            {
                LogInboundHandshakeFailed(_logger, remote, ex.Reason, ex.Message);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            _metrics.HandshakeFailure("io_error", inbound: true);
        }
        finally
        {
            _handshakeSlots.Release();
            if (accepted is not null && pipe is not null)
            {
                // Registered, but the ACK never went out.
                _ = accepted.CloseAsync(DisconnectReasons.ConnectionClosed, sendGoodbye: false);
                pipe = null;
            }

            if (pipe is not null)
            {
                // Let a STATUS or a Nok/Alive ACK already queued reach the peer before the socket closes.
                await pipe.CloseAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }
            else if (accepted is null)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>
    /// The acceptor's decision for a peer that has just proven the cookie (docs/protocol.md, "Who keeps which
    /// connection"). On <see cref="HandshakeVerdict.Ok"/> the connection is registered before the ACK goes out.
    /// </summary>
    private HandshakeVerdict Decide(SocketPipe pipe, HandshakeOutcome outcome, out PeerConnection? accepted)
    {
        accepted = null;
        lock (_gate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                throw new MeshProtocolException("shutting_down", $"{Self} is shutting down and accepts no new connections.");
            }

            var state = GetState(outcome.Peer);
            if (state.Active is { IsClosed: true } closing)
            {
                // Already on its way out; its own NodeDown would come a moment later anyway.
                Detach(state, closing, DisconnectReasons.ConnectionClosed);
            }

            if (state.Active is { } active)
            {
                if (active.PeerCreation == outcome.PeerCreation && active.DialledBySelf && Self > outcome.Peer)
                {
                    // Our dial is the one that survives; a stale dial of theirs loses. If our connection is in fact
                    // dead on their side, the tick we send now makes their stack reset it, and their next dial wins.
                    active.TrySendTick();
                    return HandshakeVerdict.Alive;
                }

                // A new life of the peer, or the peer lost the old connection and dialled again.
                var reason = active.PeerCreation != outcome.PeerCreation ? DisconnectReasons.Restarted : DisconnectReasons.Replaced;
                Detach(state, active, reason);
                _ = active.CloseAsync(reason, sendGoodbye: false);
            }
            else if (state.PendingDial is { IsCompleted: false } && Self > outcome.Peer)
            {
                // Simultaneous connect: the greater name's dial survives, and that is ours.
                return HandshakeVerdict.Nok;
            }

            accepted = NewConnection(pipe, outcome, dialledBySelf: false);
            Attach(state, accepted);
            return HandshakeVerdict.Ok;
        }
    }

    /// <summary>Registers a connection this node dialled and the peer accepted: the acceptor's Ok is authoritative.</summary>
    private void Establish(PeerConnection connection)
    {
        lock (_gate)
        {
            var state = GetState(connection.Peer);
            if (Volatile.Read(ref _disposed) != 0)
            {
                _ = connection.CloseAsync(DisconnectReasons.Shutdown, sendGoodbye: true);
                return;
            }

            if (state.Active is { } old)
            {
                var reason = old.PeerCreation != connection.PeerCreation ? DisconnectReasons.Restarted : DisconnectReasons.Replaced;
                Detach(state, old, reason);
                _ = old.CloseAsync(reason, sendGoodbye: false);
            }

            Attach(state, connection);
        }

        connection.Start(_sink!);
    }

    private PeerConnection NewConnection(SocketPipe pipe, HandshakeOutcome outcome, bool dialledBySelf)
    {
        var connection = new PeerConnection(pipe, outcome.Peer, outcome.PeerCreation, dialledBySelf, _settings, _metrics, _logger);
        Track(WatchConnectionAsync(connection));
        return connection;
    }

    private async Task WatchConnectionAsync(PeerConnection connection)
    {
        var reason = await connection.Closing.ConfigureAwait(false);
        lock (_gate)
        {
            if (_peers.TryGetValue(connection.Peer, out var state) && ReferenceEquals(state.Active, connection))
            {
                Detach(state, connection, reason);
            }
        }
    }

    // Both run under _gate, so watchers see NodeDown(old) before NodeUp(new).
    private void Attach(PeerState state, PeerConnection connection)
    {
        state.Active = connection;
        _active[connection.Peer] = connection;
        _metrics.NodeConnected();
        LogNodeUp(_logger, connection.Peer, connection.RemoteEndPoint, connection.DialledBySelf ? "outbound" : "inbound");
        Publish(new MembershipChange(MembershipChangeKind.NodeUp, connection.Peer, connection.PeerCreation, string.Empty));
    }

    private void Detach(PeerState state, PeerConnection connection, string reason)
    {
        state.Active = null;
        _active.TryRemove(new KeyValuePair<NodeName, PeerConnection>(connection.Peer, connection));
        _metrics.NodeDisconnected(reason);
        LogNodeDown(_logger, connection.Peer, reason);
        Publish(new MembershipChange(MembershipChangeKind.NodeDown, connection.Peer, connection.PeerCreation, reason));
    }

    private void Publish(MembershipChange change)
    {
        foreach (var watcher in _watchers)
        {
            watcher.Writer.TryWrite(change);
        }
    }

    private PeerState GetState(NodeName node)
    {
        if (!_peers.TryGetValue(node, out var state))
        {
            state = new PeerState();
            _peers[node] = state;
        }

        return state;
    }

    /// <summary>Wraps a connected socket, running the TLS handshake first when TLS is on (<paramref name="targetHost"/> null: accepting).</summary>
    private async Task<SocketPipe> NewPipeAsync(Socket socket, string? targetHost, CancellationToken cancellationToken)
    {
        var raw = new CountingStream(socket);
        if (_settings.Tls is not { } tls)
        {
            return new SocketPipe(socket, raw, null, _settings.MaxBufferedBytesPerConnection);
        }

        try
        {
            var secure = await tls.AuthenticateAsync(raw, targetHost, cancellationToken).ConfigureAwait(false);
            return new SocketPipe(socket, raw, secure, _settings.MaxBufferedBytesPerConnection);
        }
        catch
        {
            await raw.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }
    }

    private void Tick()
    {
        // Summaries of throttled warnings whose window is over (event 1009).
        _failedHandshakeWarnings.Flush();
        _tooManyHandshakesWarnings.Flush();
        foreach (var connection in GetConnections())
        {
            if (!connection.OnTick())
            {
                bool current;
                lock (_gate)
                {
                    current = _peers.TryGetValue(connection.Peer, out var state) && ReferenceEquals(state.Active, connection);
                    if (current)
                    {
                        Detach(state!, connection, DisconnectReasons.TickTimeout);
                    }
                }

                _ = connection.CloseAsync(DisconnectReasons.TickTimeout, sendGoodbye: false);
            }
        }
    }

    private Task Track(Task task)
    {
        lock (_background)
        {
            _background.Add(task);
        }

        _ = task.ContinueWith(
            static (t, state) =>
            {
                var set = (HashSet<Task>)state!;
                lock (set)
                {
                    set.Remove(t);
                }
            },
            _background,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return task;
    }

    /// <summary>Says goodbye to every peer (they see NodeDown <c>shutdown</c> at once), then stops.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stopping.Cancel();
        _listener?.Dispose();
        if (_tickTimer is not null)
        {
            await _tickTimer.DisposeAsync().ConfigureAwait(false);
        }

        List<PeerConnection> closing = [];
        lock (_gate)
        {
            foreach (var state in _peers.Values)
            {
                if (state.Active is { } active)
                {
                    Detach(state, active, DisconnectReasons.Shutdown);
                    closing.Add(active);
                }
            }

            foreach (var watcher in _watchers)
            {
                watcher.Writer.TryComplete();
            }
        }

        await Task.WhenAll(closing.Select(c => c.CloseAsync(DisconnectReasons.Shutdown, sendGoodbye: true))).ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        Task[] background;
        lock (_background)
        {
            background = [.. _background];
        }

        try
        {
            await Task.WhenAll(background).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ClusterException or TimeoutException or OperationCanceledException)
        {
            // Dials fail as the node stops; their callers have been told.
        }

        // No handshake is left to fail: say what the throttled warnings did not.
        _failedHandshakeWarnings.FlushAll();
        _tooManyHandshakesWarnings.FlushAll();
        _stopping.Dispose();
    }

    /// <summary>
    /// For containers disposed synchronously: the host normally stops the node first (the hosted service awaits
    /// <see cref="DisposeAsync"/>), so this only has work to do when no host ran.
    /// </summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Node {NodeName} listening on {ListenEndPoint}")]
    private static partial void LogListening(ILogger logger, NodeName nodeName, EndPoint listenEndPoint);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "Node up: {NodeName} at {RemoteEndPoint} ({Direction})")]
    private static partial void LogNodeUp(ILogger logger, NodeName nodeName, EndPoint? remoteEndPoint, string direction);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Information, Message = "Node down: {NodeName} ({Reason})")]
    private static partial void LogNodeDown(ILogger logger, NodeName nodeName, string reason);

    [LoggerMessage(EventId = InboundHandshakeFailedEvent, Level = LogLevel.Warning, Message = "Inbound handshake from {RemoteEndPoint} failed ({Reason}): {Problem}")]
    private static partial void LogInboundHandshakeFailed(ILogger logger, EndPoint? remoteEndPoint, string reason, string problem);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "Handshake with {NodeName} at {Host}:{Port} failed ({Reason}): {Problem}")]
    private static partial void LogOutboundHandshakeFailed(ILogger logger, NodeName nodeName, string host, int port, string reason, string problem);

    [LoggerMessage(EventId = TooManyHandshakesEvent, Level = LogLevel.Warning, Message = "Refused a connection from {RemoteEndPoint}: already {Limit} connections in the handshake")]
    private static partial void LogTooManyHandshakes(ILogger logger, EndPoint? remoteEndPoint, int limit);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Accepting a connection failed: {Problem}")]
    private static partial void LogAcceptFailed(ILogger logger, string problem);
}
