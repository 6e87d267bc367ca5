using System.Buffers.Binary;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// A seeded byte mutator in the manner of libFuzzer's: flips bits, sets bytes and 32-bit big-endian words (length
/// prefixes) to boundary values, inserts, deletes, duplicates and splices. The same seed gives the same mutations.
/// </summary>
internal static class Mutator
{
    /// <summary>Values around the limits that matter here: the 1 KiB handshake cap, the 8 MiB data cap, sign and width edges.</summary>
    private static readonly uint[] InterestingWords =
    [
        0, 1, 2, 3, 4, 32, 33, 34, 48, 55, 127, 128, 255, 256, 1023, 1024, 1025, 4096, 65535, 65536,
        8 * 1024 * 1024 - 1, 8 * 1024 * 1024, 8 * 1024 * 1024 + 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF,
    ];

    private static readonly byte[] InterestingBytes = [0, 1, 2, 3, 0x7F, 0x80, 0xC0, 0xC3, 0xFE, 0xFF, (byte)'@', (byte)'H', (byte)'S', (byte)'C', (byte)'R', (byte)'A'];

    /// <summary>One to eight stacked mutations of <paramref name="input"/>, possibly spliced with <paramref name="other"/>.</summary>
    public static byte[] Mutate(byte[] input, byte[] other, Random random, int maxLength)
    {
        var bytes = new List<byte>(input);
        var count = 1 + random.Next(8);
        for (var i = 0; i < count; i++)
        {
            MutateOnce(bytes, other, random);
        }

        if (bytes.Count > maxLength)
        {
            bytes.RemoveRange(maxLength, bytes.Count - maxLength);
        }

        return [.. bytes];
    }

    private static void MutateOnce(List<byte> bytes, byte[] other, Random random)
    {
        var at = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
        switch (random.Next(11))
        {
            case 0 when bytes.Count > 0:
                bytes[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when bytes.Count > 0:
                bytes[at] = InterestingBytes[random.Next(InterestingBytes.Length)];
                break;
            case 2 when bytes.Count > 0:
                bytes[at] = (byte)random.Next(256);
                break;
            case 3 when bytes.Count >= 4:
            {
                // Most likely a length prefix: rewrite a 32-bit big-endian word.
                var word = InterestingWords[random.Next(InterestingWords.Length)];
                var start = random.Next(2) == 0 ? FrameStart(bytes, random) : random.Next(bytes.Count - 3);
                Span<byte> encoded = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(encoded, word);
                for (var k = 0; k < 4; k++)
                {
                    bytes[start + k] = encoded[k];
                }

                break;
            }

            case 4:
            {
                var length = 1 + random.Next(8);
                var insert = new byte[length];
                random.NextBytes(insert);
                bytes.InsertRange(at, insert);
                break;
            }

            case 5 when bytes.Count > 0:
                bytes.RemoveRange(at, Math.Min(1 + random.Next(16), bytes.Count - at));
                break;
            case 6 when bytes.Count > 0:
            {
                // Truncate: the most common hostile input of all.
                bytes.RemoveRange(at, bytes.Count - at);
                break;
            }

            case 7 when bytes.Count > 0:
            {
                var length = Math.Min(1 + random.Next(64), bytes.Count - at);
                bytes.InsertRange(random.Next(bytes.Count + 1), bytes.GetRange(at, length));
                break;
            }

            case 8 when other.Length > 0:
            {
                // Splice: our head, the other input's tail.
                var from = random.Next(other.Length);
                bytes.RemoveRange(at, bytes.Count - at);
                bytes.AddRange(other.AsSpan(from).ToArray());
                break;
            }

            case 9 when other.Length > 0:
            {
                var from = random.Next(other.Length);
                var length = Math.Min(1 + random.Next(64), other.Length - from);
                bytes.InsertRange(at, other.AsSpan(from, length).ToArray());
                break;
            }

            default:
                bytes.Insert(at, InterestingBytes[random.Next(InterestingBytes.Length)]);
                break;
        }
    }

    /// <summary>The offset of a frame header in <paramref name="bytes"/> read as frames, or 0.</summary>
    private static int FrameStart(List<byte> bytes, Random random)
    {
        var starts = new List<int>();
        var offset = 0;
        while (offset + 4 <= bytes.Count)
        {
            starts.Add(offset);
            var length = (uint)((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]);
            if (length > (uint)(bytes.Count - offset - 4))
            {
                break;
            }

            offset += 4 + (int)length;
        }

        return starts.Count == 0 ? 0 : starts[random.Next(starts.Count)];
    }
}
