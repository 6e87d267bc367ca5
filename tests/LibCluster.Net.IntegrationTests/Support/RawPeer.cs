using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;
using LibCluster.Mesh.Transport;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Support;

/// <summary>Plain loopback TCP clients that feed a node's listener whatever bytes a test wants.</summary>
internal static class RawTcp
{
    public static async Task<Socket> ConnectAsync(TestNode node, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, node.Address.Port), cts.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads and discards until the node closes the connection (end of stream or reset) and returns how many bytes
    /// came before; throws <see cref="TimeoutException"/> if it is still open after <paramref name="timeout"/>.
    /// </summary>
    public static async Task<int> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[4096];
        var total = 0;
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return total;
                }

                total += read;
            }
        }
        catch (SocketException)
        {
            // Reset: closed as well (the node had unread bytes of ours when it closed).
            return total;
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The node did not close the connection from {socket.LocalEndPoint} within {timeout.TotalMilliseconds:0} ms.");
        }
    }

    /// <summary><c>uint32 big-endian length | payload</c>, as on the wire.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.WriteFrame(writer, payload);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>A well-formed HELLO frame (with its length prefix) from <paramref name="name"/>.</summary>
    public static byte[] HelloFrame(NodeName name, uint creation = 1) =>
        Frame(HandshakeMessages.EncodeHello(new HandshakeIdentity(name, creation, 0, RandomNumberGenerator.GetBytes(HandshakeMessages.NonceSize))));
}

/// <summary>
/// A hand-made mesh peer over a real loopback connection: it runs the library's own handshake as the initiator
/// (so it is a genuine, authenticated peer, or a genuine impostor with the wrong cookie) and afterwards does nothing
/// unless told to — the way to make a peer stop answering without closing its socket.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    private readonly SocketPipe _pipe;
    private readonly TimedWriter _output;

    private RawPeer(SocketPipe pipe)
    {
        _pipe = pipe;
        _output = new TimedWriter(pipe.Output);
    }

    /// <summary>The <see cref="Stopwatch"/> timestamp of the last flush this peer made: when it went silent.</summary>
    public long LastWriteTimestamp => _output.LastFlush;

    /// <summary>Bytes received from the node (its TICKs, after the handshake).</summary>
    public long BytesReceived => _pipe.BytesReceived;

    /// <summary>Completes when the node has closed the connection (read by the drain that starts after the handshake).</summary>
    public Task Closed => _drain ??= DrainAsync();

    private Task? _drain;

    /// <summary>Reads and discards whatever the node sends (its TICKs), until it closes: the peer stays silent but listens.</summary>
    private async Task DrainAsync()
    {
        await Task.Yield();
        try
        {
            while (true)
            {
                var result = await _pipe.Input.ReadAsync();
                _pipe.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException)
        {
            // Reset or disposed: closed all the same.
        }
    }

    public static async Task<RawPeer> ConnectAsync(TestNode target, TimeSpan timeout)
    {
        var socket = await RawTcp.ConnectAsync(target, timeout);
        return new RawPeer(new SocketPipe(socket, 1024 * 1024));
    }

    /// <summary>Runs the initiator's side of the handshake as <c>basename@127.0.0.1</c>.</summary>
    /// <exception cref="LibCluster.Mesh.MeshProtocolException">The node refused or the proof failed.</exception>
    public async Task<HandshakeOutcome> HandshakeAsync(NodeName expectedPeer, string basename, string cookie, uint creation, TimeSpan timeout)
    {
        var protocol = new HandshakeProtocol(cookie, NodeName.Parse($"{basename}@127.0.0.1"), creation);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await protocol.InitiateAsync(new Duplex(_pipe.Input, _output), expectedPeer, cts.Token);
        }
        finally
        {
            _drain ??= DrainAsync();
        }
    }

    public ValueTask DisposeAsync() => _pipe.DisposeAsync();

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;

    /// <summary>Passes everything through and notes when the last flush completed.</summary>
    private sealed class TimedWriter(PipeWriter inner) : PipeWriter
    {
        private long _lastFlush;

        public long LastFlush => Volatile.Read(ref _lastFlush);

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var result = await inner.FlushAsync(cancellationToken);
            Volatile.Write(ref _lastFlush, Stopwatch.GetTimestamp());
            return result;
        }
    }
}
