using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Mesh.Handshake;
using LibCluster.Mesh.Transport;
using LibCluster.Nodes;

namespace LibCluster.IntegrationTests.Support;

/// <summary>Loopback TCP clients that can choose their source address (any of 127.0.0.0/8) to look like other hosts.</summary>
internal static class HostileSocket
{
    /// <summary>Connects to <paramref name="target"/> from <paramref name="source"/> (port chosen by the OS), or from 127.0.0.1.</summary>
    public static async Task<Socket> ConnectAsync(IPEndPoint target, IPAddress? source, TimeSpan timeout)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (source is not null)
            {
                socket.Bind(new IPEndPoint(source, 0));
            }

            using var cts = new CancellationTokenSource(timeout);
            await socket.ConnectAsync(target, cts.Token);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends all of <paramref name="bytes"/>; false when the node closed the connection first.</summary>
    public static async Task<bool> TrySendAsync(Socket socket, ReadOnlyMemory<byte> bytes, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (!bytes.IsEmpty)
            {
                var sent = await socket.SendAsync(bytes, SocketFlags.None, cts.Token);
                bytes = bytes[sent..];
            }

            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

/// <summary>
/// A hand-made peer that runs the library's own handshake as the initiator, from a source address of its choosing, and
/// then writes whatever bytes a test wants: an authenticated peer turned hostile (or, with the wrong cookie, a stranger
/// guessing). It reads what the node sends only when asked to (<see cref="StartReading"/>), so it can also be a peer that
/// never reads.
/// </summary>
internal sealed class HostilePeer : IAsyncDisposable
{
    private readonly SocketPipe _pipe;
    private Task? _reading;

    private HostilePeer(SocketPipe pipe)
    {
        _pipe = pipe;
    }

    /// <summary>Completes when the node has closed the connection (once <see cref="StartReading"/> was called).</summary>
    public Task Closed => _reading ?? throw new InvalidOperationException("Call StartReading first.");

    /// <summary>Bytes received from the node so far.</summary>
    public long BytesReceived => _pipe.BytesReceived;

    public static async Task<HostilePeer> ConnectAsync(IPEndPoint target, IPAddress? source, TimeSpan timeout)
    {
        var socket = await HostileSocket.ConnectAsync(target, source, timeout);
        return new HostilePeer(new SocketPipe(socket, 64 * 1024 * 1024));
    }

    /// <summary>Runs the initiator's side of the handshake as <c>basename@127.0.0.1</c>.</summary>
    /// <exception cref="MeshProtocolException">The node refused or the proof failed.</exception>
    public async Task<HandshakeOutcome> HandshakeAsync(NodeName expectedPeer, string basename, string cookie, TimeSpan timeout, uint creation = 0x0BAD_F00D)
    {
        var protocol = new HandshakeProtocol(cookie, NodeName.Parse($"{basename}@127.0.0.1"), creation);
        using var cts = new CancellationTokenSource(timeout);
        return await protocol.InitiateAsync(new Duplex(_pipe.Input, _pipe.Output), expectedPeer, cts.Token);
    }

    /// <summary>Writes raw bytes (whole frames, or anything else) and waits until they are handed to the socket's buffer.</summary>
    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _pipe.Output.WriteAsync(bytes, cts.Token);
    }

    /// <summary>Reads and discards what the node sends, until it closes the connection (<see cref="Closed"/>).</summary>
    public void StartReading() => _reading ??= ReadAsync();

    private async Task ReadAsync()
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

    /// <summary>
    /// Reads what the node sends until a REPLY to <paramref name="requestId"/> arrives (true) or the node closes the
    /// connection (false). Do not combine with <see cref="StartReading"/>.
    /// </summary>
    public async Task<bool> ReadUntilReplyOrCloseAsync(ulong requestId, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var result = await _pipe.Input.ReadAsync(cts.Token);
                var buffer = result.Buffer;
                var answered = false;
                while (!answered && FrameCodec.TryReadFrame(ref buffer, int.MaxValue, out var frame))
                {
                    var decoded = MessageFrames.Decode(frame);
                    answered = decoded.Type == FrameType.Reply && decoded.Id == requestId;
                }

                _pipe.Input.AdvanceTo(buffer.Start, buffer.End);
                if (answered)
                {
                    return true;
                }

                if (result.IsCompleted)
                {
                    return false;
                }
            }
        }
        catch (IOException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => _pipe.DisposeAsync();

    private sealed record Duplex(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
