using System.Buffers;
using System.IO.Pipelines;

namespace LibCluster.Mesh.Framing;

/// <summary>Whole-frame reads and writes on a pipe, for the handshake (small frames, copied out).</summary>
internal static class PipeFrames
{
    public static async ValueTask<byte[]> ReadFrameAsync(PipeReader reader, int maxFrameBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (FrameCodec.TryReadFrame(ref buffer, maxFrameBytes, out var payload))
            {
                var bytes = payload.ToArray();
                reader.AdvanceTo(buffer.Start);
                return bytes;
            }

            if (result.IsCanceled)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw new OperationCanceledException("The handshake read was cancelled.");
            }

            if (result.IsCompleted)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw new MeshProtocolException("connection_closed", "The peer closed the connection during the handshake.");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    public static ValueTask<FlushResult> WriteFramesAsync(PipeWriter writer, CancellationToken cancellationToken, params ReadOnlySpan<byte[]> frames)
    {
        foreach (var frame in frames)
        {
            FrameCodec.WriteFrame(writer, frame);
        }

        return writer.FlushAsync(cancellationToken);
    }
}
