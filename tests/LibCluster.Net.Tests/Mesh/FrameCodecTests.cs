using System.Buffers;
using System.Buffers.Binary;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;

namespace LibCluster.Tests.Mesh;

public sealed class FrameCodecTests
{
    private const int Cap = 1024;

    [Fact]
    public void TryReadFrame_WholeFrame_ReturnsPayloadAndConsumesIt()
    {
        var buffer = new ReadOnlySequence<byte>(Frame([1, 2, 3]));

        FrameCodec.TryReadFrame(ref buffer, Cap, out var payload).Should().BeTrue();

        payload.ToArray().Should().Equal(1, 2, 3);
        buffer.Length.Should().Be(0);
    }

    [Fact]
    public void TryReadFrame_ZeroLengthFrame_ReturnsEmptyPayload()
    {
        var buffer = new ReadOnlySequence<byte>([0, 0, 0, 0, 0xAA]);

        FrameCodec.TryReadFrame(ref buffer, Cap, out var payload).Should().BeTrue();

        payload.IsEmpty.Should().BeTrue();
        buffer.ToArray().Should().Equal(0xAA);
    }

    [Fact]
    public void TryReadFrame_ZeroLengthFrameWithZeroCap_IsAccepted()
    {
        var buffer = new ReadOnlySequence<byte>([0, 0, 0, 0]);

        FrameCodec.TryReadFrame(ref buffer, 0, out var payload).Should().BeTrue();

        payload.IsEmpty.Should().BeTrue();
    }

    [Fact]
    public void TryReadFrame_SeveralFramesInOneBuffer_ReturnsEachInOrder()
    {
        byte[][] payloads = [[1], [], [2, 3], [.. Enumerable.Range(0, 300).Select(i => (byte)i)], [4, 5, 6, 7]];
        var buffer = new ReadOnlySequence<byte>(payloads.SelectMany(Frame).ToArray());

        var read = new List<byte[]>();
        while (FrameCodec.TryReadFrame(ref buffer, Cap, out var payload))
        {
            read.Add(payload.ToArray());
        }

        read.Should().BeEquivalentTo(payloads, o => o.WithStrictOrdering());
        buffer.Length.Should().Be(0);
    }

    [Fact]
    public void TryReadFrame_SeveralFramesThenPartialOne_LeavesThePartialOneUnconsumed()
    {
        var bytes = Frame([1, 2]).Concat(Frame([3])).Concat(Frame([4, 5, 6])[..5]).ToArray();
        var buffer = new ReadOnlySequence<byte>(bytes);

        FrameCodec.TryReadFrame(ref buffer, Cap, out var first).Should().BeTrue();
        FrameCodec.TryReadFrame(ref buffer, Cap, out var second).Should().BeTrue();
        FrameCodec.TryReadFrame(ref buffer, Cap, out _).Should().BeFalse();

        first.ToArray().Should().Equal(1, 2);
        second.ToArray().Should().Equal(3);
        buffer.ToArray().Should().Equal(0, 0, 0, 3, 4);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(13)]
    public void TryReadFrame_TruncatedInput_ReturnsFalseAndConsumesNothing(int available)
    {
        var bytes = Frame([.. Enumerable.Range(1, 10).Select(i => (byte)i)])[..available];
        var buffer = new ReadOnlySequence<byte>(bytes);
        var before = buffer;

        FrameCodec.TryReadFrame(ref buffer, Cap, out var payload).Should().BeFalse();

        payload.IsEmpty.Should().BeTrue();
        buffer.Start.Should().Be(before.Start);
        buffer.End.Should().Be(before.End);
        buffer.Length.Should().Be(available);
    }

    [Theory]
    [InlineData(new[] { 1, 1, 1, 1 })]
    [InlineData(new[] { 1, 3 })]
    [InlineData(new[] { 2, 2 })]
    [InlineData(new[] { 3, 1 })]
    [InlineData(new[] { 3, 2 })]
    [InlineData(new[] { 0, 2, 0, 0, 2, 0 })]
    [InlineData(new[] { 4, 1, 1 })]
    [InlineData(new[] { 2, 4, 1 })]
    public void TryReadFrame_HeaderOrPayloadSplitAcrossSegments_ReadsWholeFrame(int[] sizes)
    {
        byte[] payload = [10, 20, 30, 40, 50, 60, 70];
        var bytes = Frame(payload).Concat(Frame([99])).ToArray();
        var buffer = TestSequences.Split(bytes, sizes);
        buffer.IsSingleSegment.Should().BeFalse();

        FrameCodec.TryReadFrame(ref buffer, Cap, out var first).Should().BeTrue();
        FrameCodec.TryReadFrame(ref buffer, Cap, out var second).Should().BeTrue();

        first.ToArray().Should().Equal(payload);
        second.ToArray().Should().Equal(99);
        buffer.Length.Should().Be(0);
    }

    [Fact]
    public void TryReadFrame_OneBytePerSegment_ReadsEveryFrame()
    {
        byte[][] payloads = [[1, 2, 3], [], [4], [.. Enumerable.Range(0, 40).Select(i => (byte)i)]];
        var buffer = TestSequences.OneBytePerSegment([.. payloads.SelectMany(Frame)]);

        var read = new List<byte[]>();
        while (FrameCodec.TryReadFrame(ref buffer, Cap, out var payload))
        {
            read.Add(payload.ToArray());
        }

        read.Should().BeEquivalentTo(payloads, o => o.WithStrictOrdering());
        buffer.Length.Should().Be(0);
    }

    [Fact]
    public void TryReadFrame_TruncatedMultiSegmentInput_ReturnsFalseAndConsumesNothing()
    {
        var bytes = Frame([1, 2, 3, 4, 5, 6]);
        for (var available = 0; available < bytes.Length; available++)
        {
            var buffer = TestSequences.OneBytePerSegment(bytes[..available]);
            var before = buffer;

            FrameCodec.TryReadFrame(ref buffer, Cap, out _).Should().BeFalse($"only {available} bytes are there");

            buffer.Start.Should().Be(before.Start);
            buffer.End.Should().Be(before.End);
        }
    }

    [Fact]
    public void TryReadFrame_RandomFramesRandomlySegmented_ReadsEveryFrame()
    {
        var random = new Random(1234);
        for (var round = 0; round < 200; round++)
        {
            var payloads = Enumerable.Range(0, random.Next(1, 10))
                .Select(_ => { var p = new byte[random.Next(0, 50)]; random.NextBytes(p); return p; })
                .ToArray();
            var bytes = payloads.SelectMany(Frame).ToArray();
            var sizes = Enumerable.Range(0, random.Next(0, 30)).Select(_ => random.Next(0, 8)).ToArray();
            var buffer = TestSequences.Split(bytes, sizes);

            var read = new List<byte[]>();
            while (FrameCodec.TryReadFrame(ref buffer, Cap, out var payload))
            {
                read.Add(payload.ToArray());
            }

            read.Should().BeEquivalentTo(payloads, o => o.WithStrictOrdering(), $"round {round}");
            buffer.Length.Should().Be(0);
        }
    }

    [Theory]
    [InlineData(1024, 1025u)]
    [InlineData(1024, 0x0010_0000u)] // 1 MiB
    [InlineData(8 * 1024 * 1024, 8u * 1024 * 1024 + 1)]
    [InlineData(1024, 0xFFFF_FFFFu)] // 4 GiB
    [InlineData(int.MaxValue, 0xFFFF_FFFFu)]
    [InlineData(int.MaxValue, 0x8000_0000u)]
    [InlineData(0, 1u)]
    public void TryReadFrame_LengthAboveCap_ThrowsFrameTooLargeFromTheHeaderAlone(int cap, uint length)
    {
        // Only the header has arrived: the frame is refused before any of its payload is buffered.
        var header = Header(length);

        var ex = FluentActions.Invoking(() =>
        {
            var buffer = new ReadOnlySequence<byte>(header);
            return FrameCodec.TryReadFrame(ref buffer, cap, out _);
        }).Should().ThrowExactly<MeshProtocolException>().Which;

        ex.Reason.Should().Be("frame_too_large");
        ex.Message.Should().Contain(length.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData(new[] { 1, 1, 1 })]
    [InlineData(new[] { 2 })]
    [InlineData(new[] { 3 })]
    public void TryReadFrame_OversizedHeaderSplitAcrossSegments_ThrowsFrameTooLarge(int[] sizes)
    {
        var ex = FluentActions.Invoking(() =>
        {
            var buffer = TestSequences.Split(Header(0xFFFF_FFFF), sizes);
            return FrameCodec.TryReadFrame(ref buffer, Cap, out _);
        }).Should().ThrowExactly<MeshProtocolException>().Which;

        ex.Reason.Should().Be("frame_too_large");
    }

    [Fact]
    public void TryReadFrame_LengthEqualToCap_WaitsForThePayload()
    {
        var buffer = new ReadOnlySequence<byte>(Header(Cap));

        FrameCodec.TryReadFrame(ref buffer, Cap, out _).Should().BeFalse();

        var whole = new ReadOnlySequence<byte>(Frame(new byte[Cap]));
        FrameCodec.TryReadFrame(ref whole, Cap, out var payload).Should().BeTrue();
        payload.Length.Should().Be(Cap);
    }

    [Fact]
    public void TryReadFrame_GoodFrameThenOversizedOne_ReturnsTheGoodOneFirst()
    {
        var bytes = Frame([7, 7]).Concat(Header(0xFFFF_FFFF)).ToArray();
        var buffer = new ReadOnlySequence<byte>(bytes);

        FrameCodec.TryReadFrame(ref buffer, Cap, out var payload).Should().BeTrue();
        payload.ToArray().Should().Equal(7, 7);

        var ex = FluentActions.Invoking(() =>
        {
            var rest = buffer;
            return FrameCodec.TryReadFrame(ref rest, Cap, out _);
        }).Should().ThrowExactly<MeshProtocolException>().Which;
        ex.Reason.Should().Be("frame_too_large");
    }

    [Fact]
    public void TryReadFrame_PartialHeaderOfOversizedFrame_ReturnsFalse()
    {
        // Three bytes of 0xFFFFFFFF cannot be judged yet.
        var buffer = new ReadOnlySequence<byte>([0xFF, 0xFF, 0xFF]);

        FrameCodec.TryReadFrame(ref buffer, Cap, out _).Should().BeFalse();
        buffer.Length.Should().Be(3);
    }

    [Fact]
    public void WriteFrame_WritesBigEndianLengthThenPayload()
    {
        var writer = new ArrayBufferWriter<byte>();

        FrameCodec.WriteFrame(writer, [0xAB, 0xCD, 0xEF]);
        FrameCodec.WriteFrame(writer, []);
        FrameCodec.WriteFrame(writer, new byte[0x0102]);

        var bytes = writer.WrittenSpan.ToArray();
        bytes[..7].Should().Equal(0, 0, 0, 3, 0xAB, 0xCD, 0xEF);
        bytes[7..11].Should().Equal(0, 0, 0, 0);
        bytes[11..15].Should().Equal(0, 0, 1, 2);
        bytes.Length.Should().Be(15 + 0x0102);
    }

    [Fact]
    public void WriteHeader_ThenTryReadFrame_RoundTrips()
    {
        var writer = new ArrayBufferWriter<byte>();
        FrameCodec.WriteHeader(writer, 5);
        writer.Write<byte>([1, 2, 3, 4, 5]);

        var buffer = new ReadOnlySequence<byte>(writer.WrittenMemory);
        FrameCodec.TryReadFrame(ref buffer, Cap, out var payload).Should().BeTrue();

        payload.ToArray().Should().Equal(1, 2, 3, 4, 5);
    }

    internal static byte[] Header(uint length)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(header, length);
        return header;
    }

    internal static byte[] Frame(byte[] payload) => [.. Header((uint)payload.Length), .. payload];
}
