using System.Buffers;
using System.IO.Pipelines;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;

namespace LibCluster.Tests.Mesh;

public sealed class PipeFramesTests
{
    private const int Cap = 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task ReadFrameAsync_OneBytePerWrite_ReturnsTheWholeFrameOnlyAfterTheLastByte()
    {
        var pipe = DuplexPipe.NewPipe();
        byte[] payload = [.. Enumerable.Range(0, 300).Select(i => (byte)i)];
        var bytes = FrameCodecTests.Frame(payload);

        var read = PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask();
        for (var i = 0; i < bytes.Length; i++)
        {
            read.IsCompleted.Should().BeFalse($"only {i} of {bytes.Length} bytes have been written");
            await pipe.Writer.WriteAsync(bytes.AsMemory(i, 1)).AsTask().WaitAsync(Timeout);
        }

        (await read.WaitAsync(Timeout)).Should().Equal(payload);
    }

    [Fact]
    public async Task ReadFrameAsync_SeveralFramesOneBytePerWrite_ReturnsEachInOrder()
    {
        var pipe = DuplexPipe.NewPipe();
        byte[][] payloads = [[1, 2, 3], [], [4], [.. Enumerable.Range(0, 70).Select(i => (byte)i)]];
        var bytes = payloads.SelectMany(FrameCodecTests.Frame).ToArray();

        var writing = Task.Run(async () =>
        {
            for (var i = 0; i < bytes.Length; i++)
            {
                await pipe.Writer.WriteAsync(bytes.AsMemory(i, 1));
            }
        });

        foreach (var expected in payloads)
        {
            (await PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask().WaitAsync(Timeout)).Should().Equal(expected);
        }

        await writing.WaitAsync(Timeout);
    }

    [Fact]
    public async Task TryReadFrame_ReadLoopFedOneBytePerWrite_FrameComesOutWhole()
    {
        // The read loop of a connection: read, parse what is there, mark all of it examined, read again.
        var pipe = DuplexPipe.NewPipe();
        byte[] payload = [.. Enumerable.Range(0, 50).Select(i => (byte)(i * 3))];
        var bytes = FrameCodecTests.Frame(payload).Concat(FrameCodecTests.Frame([42])).ToArray();
        var frames = new List<byte[]>();

        for (var i = 0; i < bytes.Length; i++)
        {
            await pipe.Writer.WriteAsync(bytes.AsMemory(i, 1)).AsTask().WaitAsync(Timeout);

            pipe.Reader.TryRead(out var result).Should().BeTrue();
            var buffer = result.Buffer;
            while (FrameCodec.TryReadFrame(ref buffer, Cap, out var frame))
            {
                frames.Add(frame.ToArray());
            }

            pipe.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (i < FrameCodecTests.Frame(payload).Length - 1)
            {
                frames.Should().BeEmpty($"only {i + 1} bytes have arrived");
            }
        }

        frames.Should().HaveCount(2);
        frames[0].Should().Equal(payload);
        frames[1].Should().Equal(42);
    }

    [Fact]
    public async Task ReadFrameAsync_TwoFramesInOneWrite_LeavesTheSecondInThePipe()
    {
        var pipe = DuplexPipe.NewPipe();
        await pipe.Writer.WriteAsync(FrameCodecTests.Frame([1]).Concat(FrameCodecTests.Frame([2, 2])).ToArray()).AsTask().WaitAsync(Timeout);

        (await PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask().WaitAsync(Timeout)).Should().Equal(1);
        (await PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask().WaitAsync(Timeout)).Should().Equal(2, 2);
    }

    [Theory]
    [InlineData(0x0000_0401u)]
    [InlineData(0x0010_0000u)]
    [InlineData(0xFFFF_FFFFu)]
    public async Task ReadFrameAsync_OversizedHeader_ThrowsFrameTooLargeWithoutWaitingForThePayload(uint length)
    {
        var pipe = DuplexPipe.NewPipe();
        await pipe.Writer.WriteAsync(FrameCodecTests.Header(length)).AsTask().WaitAsync(Timeout);

        // The writer stays open: the reader must not wait for a payload it will refuse.
        var ex = await FluentActions.Awaiting(() => PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask().WaitAsync(Timeout))
            .Should().ThrowExactlyAsync<MeshProtocolException>();

        ex.Which.Reason.Should().Be("frame_too_large");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(6)]
    public async Task ReadFrameAsync_WriterCompletesMidFrame_ThrowsConnectionClosed(int available)
    {
        var pipe = DuplexPipe.NewPipe();
        await pipe.Writer.WriteAsync(FrameCodecTests.Frame([1, 2, 3, 4])[..available]).AsTask().WaitAsync(Timeout);
        await pipe.Writer.CompleteAsync();

        var ex = await FluentActions.Awaiting(() => PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask().WaitAsync(Timeout))
            .Should().ThrowExactlyAsync<MeshProtocolException>();

        ex.Which.Reason.Should().Be("connection_closed");
    }

    [Fact]
    public async Task ReadFrameAsync_WholeFrameThenWriterCompleted_ReturnsTheFrame()
    {
        var pipe = DuplexPipe.NewPipe();
        await pipe.Writer.WriteAsync(FrameCodecTests.Frame([5, 6])).AsTask().WaitAsync(Timeout);
        await pipe.Writer.CompleteAsync();

        (await PipeFrames.ReadFrameAsync(pipe.Reader, Cap, CancellationToken.None).AsTask().WaitAsync(Timeout)).Should().Equal(5, 6);
    }

    [Fact]
    public async Task ReadFrameAsync_NothingArrives_IsCancelledByTheToken()
    {
        var pipe = DuplexPipe.NewPipe();
        await pipe.Writer.WriteAsync(new byte[] { 0, 0 }).AsTask().WaitAsync(Timeout);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await FluentActions.Awaiting(() => PipeFrames.ReadFrameAsync(pipe.Reader, Cap, cts.Token).AsTask().WaitAsync(Timeout))
            .Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task WriteFramesAsync_SeveralFrames_AreFlushedTogetherAndReadBackInOrder()
    {
        var pipe = DuplexPipe.NewPipe();

        var flush = await PipeFrames.WriteFramesAsync(pipe.Writer, CancellationToken.None, [1], [], [2, 3]).AsTask().WaitAsync(Timeout);

        flush.IsCompleted.Should().BeFalse();
        pipe.Reader.TryRead(out var result).Should().BeTrue();
        result.Buffer.ToArray().Should().Equal(0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 3);
        pipe.Reader.AdvanceTo(result.Buffer.Start);
    }
}
