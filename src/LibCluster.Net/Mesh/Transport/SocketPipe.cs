using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace LibCluster.Mesh.Transport;

/// <summary>
/// A connected socket seen as a duplex pipe. <see cref="Input"/> reads the socket on demand, on the thread of
/// whoever reads frames: no receive loop and no thread hop between the socket and the frame parser, and nothing is
/// buffered that the parser has not asked for (before authentication the 1 KiB frame cap bounds it; after it,
/// not reading is how a busy node pushes back). <see cref="Output"/> is a bounded pipe drained by a send loop, in
/// the manner of Kestrel's socket transport: frames flushed while a send is in progress go out together in the next
/// send (write batching), and a full pipe makes writers wait (backpressure).
/// </summary>
internal sealed class SocketPipe : IDuplexPipe, IAsyncDisposable
{
    // Up to 64 KiB per read while bytes flow: a busy stream costs one system call and one pass of the frame loop
    // per ~800 small messages. An idle connection holds no buffer at all: it waits with a zero-byte read and rents
    // one only when bytes are there (as Kestrel does), so a node with many quiet peers stays small.
    private const int ReceiveBufferSize = 64 * 1024;

    // Output segments of 16 KiB rather than the default 4 KiB: a busy stream goes out in fewer, larger sends and
    // rents a quarter as many buffers (at 4 KiB the shared array pool ran dry and most rents allocated).
    private const int OutputSegmentSize = 16 * 1024;

    private readonly Socket _socket;
    private readonly CountingStream _raw;
    private readonly Stream _stream;
    private readonly PipeReader _input;
    private readonly Pipe _output;
    private readonly Task _sending;
    private readonly CancellationTokenSource _shutdown = new();
    private long _bytesSent;
    private int _disposed;

    /// <param name="socket">A connected socket; the pipe owns it.</param>
    /// <param name="maxOutputBytes">Flushed bytes buffered before writers wait.</param>
    public SocketPipe(Socket socket, long maxOutputBytes)
        : this(socket, new CountingStream(socket), null, maxOutputBytes)
    {
    }

    /// <param name="socket">A connected socket; the pipe owns it.</param>
    /// <param name="raw">The socket's counting stream.</param>
    /// <param name="secure">A TLS stream already authenticated over <paramref name="raw"/>, or null for plain TCP.</param>
    /// <param name="maxOutputBytes">Flushed bytes buffered before writers wait.</param>
    public SocketPipe(Socket socket, CountingStream raw, Stream? secure, long maxOutputBytes)
    {
        _socket = socket;
        RemoteEndPoint = socket.RemoteEndPoint;
        _raw = raw;
        _stream = secure ?? raw;
        _input = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: ReceiveBufferSize, minimumReadSize: 1024, leaveOpen: true, useZeroByteReads: true));
        _output = new Pipe(new PipeOptions(readerScheduler: SendScheduler.Instance, pauseWriterThreshold: maxOutputBytes, resumeWriterThreshold: maxOutputBytes / 2, minimumSegmentSize: OutputSegmentSize, useSynchronizationContext: false));
        _sending = SendLoopAsync();
    }

    public PipeReader Input => _input;

    public PipeWriter Output => _output.Writer;

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Completes when the send loop has stopped: the output was completed, or a send failed.</summary>
    public Task SendLoopEnded => _sending;

    /// <summary>True when the connection runs over TLS.</summary>
    public bool IsSecure => !ReferenceEquals(_stream, _raw);

    /// <summary>Total bytes received so far (on the wire, before any decryption): any growth counts as a sign of life.</summary>
    public long BytesReceived => _raw.BytesReceived;

    /// <summary>Total bytes handed to the transport so far.</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);

    private async Task SendLoopAsync()
    {
        await Task.Yield();
        var reader = _output.Reader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(_shutdown.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                try
                {
                    if (!buffer.IsEmpty)
                    {
                        foreach (var segment in buffer)
                        {
                            var remaining = segment;
                            while (!remaining.IsEmpty)
                            {
                                if (IsSecure)
                                {
                                    // One TLS record per segment; the segments of a batch still go out back to back.
                                    await _stream.WriteAsync(remaining, _shutdown.Token).ConfigureAwait(false);
                                    break;
                                }

                                var sent = await _socket.SendAsync(remaining, SocketFlags.None, _shutdown.Token).ConfigureAwait(false);
                                remaining = remaining[sent..];
                            }
                        }

                        Interlocked.Add(ref _bytesSent, buffer.Length);
                    }
                }
                finally
                {
                    reader.AdvanceTo(buffer.End);
                }

                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The receive side sees the same failure; the connection owner closes both.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            // Wake a reader that is waiting for bytes that will never come.
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Lets already flushed output drain (up to <paramref name="timeout"/>), then closes the socket.</summary>
    public async ValueTask CloseAsync(TimeSpan timeout)
    {
        await _output.Writer.CompleteAsync().ConfigureAwait(false);
        try
        {
            await _sending.WaitAsync(timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }

        await DisposeAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        _shutdown.Cancel();
        _socket.Dispose();
        await _sending.ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        await _raw.DisposeAsync().ConfigureAwait(false);
        _shutdown.Dispose();

        // The input reader belongs to whoever reads frames; it completes it when its loop ends.
    }
}
