using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace LibCluster.Mesh.Transport;

/// <summary>
/// A connected socket seen as a pair of bounded pipes, in the manner of Kestrel's socket transport: one loop
/// moves received bytes into <see cref="Input"/>, another sends whatever has been flushed to <see cref="Output"/>.
/// Many frames flushed while a send is in progress go out together in the next send (write batching); a
/// full output pipe makes writers wait (backpressure); a full input pipe stops receiving.
/// </summary>
internal sealed class SocketPipe : IDuplexPipe, IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly Task _receiving;
    private readonly Task _sending;
    /// <summary>
    /// Bytes received before the peer is authenticated, at most: a handshake needs well under 1 KiB, so a stranger
    /// cannot make a node buffer megabytes per connection while it is still proving nothing.
    /// </summary>
    public const int PreAuthenticationReceiveLimit = 16 * 1024;

    private readonly CancellationTokenSource _shutdown = new();
    private readonly TaskCompletionSource _authenticated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _bytesReceived;
    private long _bytesSent;
    private int _disposed;

    /// <param name="socket">A connected socket; the pipe owns it.</param>
    /// <param name="maxInputBytes">Received bytes buffered before receiving stops; must hold the largest frame.</param>
    /// <param name="maxOutputBytes">Flushed bytes buffered before writers wait.</param>
    public SocketPipe(Socket socket, long maxInputBytes, long maxOutputBytes)
    {
        _socket = socket;
        RemoteEndPoint = socket.RemoteEndPoint;
        _input = new Pipe(Options(maxInputBytes));
        _output = new Pipe(Options(maxOutputBytes));
        _receiving = ReceiveLoopAsync();
        _sending = SendLoopAsync();
    }

    private static PipeOptions Options(long max) =>
        new(pauseWriterThreshold: max, resumeWriterThreshold: max / 2, useSynchronizationContext: false);

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    public EndPoint? RemoteEndPoint { get; }

    /// <summary>Total bytes received so far: any growth counts as a sign of life.</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>Total bytes handed to the socket so far.</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Completes when either direction has stopped (peer closed, error, or disposal).</summary>
    public Task Closed => Task.WhenAny(_receiving, _sending);

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        Exception? error = null;
        var writer = _input.Writer;
        try
        {
            while (true)
            {
                if (!_authenticated.Task.IsCompleted && _bytesReceived >= PreAuthenticationReceiveLimit)
                {
                    await _authenticated.Task.WaitAsync(_shutdown.Token).ConfigureAwait(false);
                }

                var memory = writer.GetMemory(8192);
                var read = await _socket.ReceiveAsync(memory, SocketFlags.None, _shutdown.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                writer.Advance(read);
                Interlocked.Add(ref _bytesReceived, read);
                var flush = await writer.FlushAsync(_shutdown.Token).ConfigureAwait(false);
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            error = new IOException($"Receiving from {RemoteEndPoint} failed: {ex.Message}", ex);
        }
        finally
        {
            await writer.CompleteAsync(error).ConfigureAwait(false);
        }
    }

    /// <summary>The handshake succeeded: receive without the pre-authentication limit.</summary>
    public void MarkAuthenticated() => _authenticated.TrySetResult();

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
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The receive side sees the same failure; the connection owner closes both.
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            // Wake a receive loop that is waiting for bytes that will never be answered.
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
        await Task.WhenAll(_receiving, _sending).ConfigureAwait(false);
        _shutdown.Dispose();

        // The input reader belongs to whoever reads frames; it completes it when its loop ends.
    }
}
