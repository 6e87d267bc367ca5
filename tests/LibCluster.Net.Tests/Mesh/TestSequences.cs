using System.Buffers;

namespace LibCluster.Tests.Mesh;

/// <summary>Builds multi-segment <see cref="ReadOnlySequence{T}"/>s, the way a pipe hands out data that arrived in pieces.</summary>
internal static class TestSequences
{
    /// <summary>One segment per part, in order; empty parts make empty segments.</summary>
    public static ReadOnlySequence<byte> FromSegments(params byte[][] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(parts[0], null);
        var last = first;
        for (var i = 1; i < parts.Length; i++)
        {
            last = new Segment(parts[i], last);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cuts <paramref name="bytes"/> into segments of the given sizes (the last takes whatever is left).</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] sizes)
    {
        var parts = new List<byte[]>();
        var offset = 0;
        foreach (var size in sizes)
        {
            var take = Math.Min(size, bytes.Length - offset);
            parts.Add(bytes[offset..(offset + take)]);
            offset += take;
        }

        parts.Add(bytes[offset..]);
        return FromSegments([.. parts]);
    }

    /// <summary>One segment per byte.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes) =>
        FromSegments([.. bytes.Select(b => new[] { b })]);

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] bytes, Segment? previous)
        {
            Memory = bytes;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
