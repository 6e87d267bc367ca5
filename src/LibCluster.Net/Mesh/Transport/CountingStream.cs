using System.Net.Sockets;

namespace LibCluster.Mesh.Transport;

/// <summary>
/// The socket's network stream, counting what it receives: the tick check reads the count from another thread,
/// and with TLS it counts the encrypted bytes, which are just as much a sign of life.
/// </summary>
internal sealed class CountingStream(Socket socket) : NetworkStream(socket, ownsSocket: false)
{
    private long _bytesReceived;

    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await base.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesReceived, read);
        return read;
    }

    public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        var read = await base.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false);
        Interlocked.Add(ref _bytesReceived, read);
        return read;
    }

    public override int Read(Span<byte> buffer)
    {
        var read = base.Read(buffer);
        Interlocked.Add(ref _bytesReceived, read);
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
}
