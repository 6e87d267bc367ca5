using System.Security.Cryptography;
using System.Text;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// The gossip heartbeat reader (<see cref="GossipPacket.TryRead"/>) on one datagram, for a cluster without a secret and
/// for one with. It must never throw; a packet it accepts carries a valid node name, a non-zero creation and a port.
/// </summary>
internal sealed class GossipTarget : FuzzTarget
{
    public const string Secret = "fuzz-gossip-secret-0123456789abcdef";

    private static readonly GossipKey Key = GossipKey.Derive(Secret);
    private static readonly IReadOnlySet<string> Reasons = new HashSet<string>(StringComparer.Ordinal);

    public override string Name => "gossip";

    public override int MaxInputBytes => 2048;

    /// <summary>An accepted name is one string of at most 255 ASCII characters; a refused one costs at most the name check's message.</summary>
    public override long AllocationBudget => 4096;

    protected override IReadOnlySet<string> AllowedReasons => Reasons;

    public static byte[] Plain(string name, uint creation = 7, int port = 9001)
    {
        var buffer = new byte[GossipPacket.MaxLength];
        var length = GossipPacket.WritePlain(buffer, new GossipHeartbeat(NodeName.Parse(name), creation, port));
        return buffer[..length];
    }

    public static byte[] Sealed(string name, long timestampMs = 1_700_000_000_000, uint creation = 7, int port = 9001)
    {
        var buffer = new byte[GossipPacket.MaxLength];
        // A nonce derived from the content, so that the seeds (stored in the corpus too) are the same bytes every run.
        var nonce = SHA256.HashData(Encoding.UTF8.GetBytes($"{name}|{timestampMs}|{creation}|{port}"))[..GossipKey.NonceLength];
        var length = GossipPacket.WriteSealed(buffer, new GossipHeartbeat(NodeName.Parse(name), creation, port), Key, timestampMs, nonce);
        return buffer[..length];
    }

    public override IEnumerable<byte[]> Seeds()
    {
        yield return [];
        yield return "LCGH"u8.ToArray();
        yield return Plain("b@10.0.0.2");
        yield return Plain(new string('n', 200) + "@" + new string('h', 54));
        yield return Sealed("b@10.0.0.2");
        yield return Sealed("c@2001:db8::1", long.MinValue);
        yield return Sealed("d@h", long.MaxValue);
        var plain = Plain("b@10.0.0.2");
        yield return plain[..^1];
        yield return [.. plain, 0];
        var sealedPacket = Sealed("b@10.0.0.2", creation: 8);
        sealedPacket[^1] ^= 1;
        yield return sealedPacket;
        yield return new byte[GossipPacket.MaxLength + 1];
    }

    protected override string Execute(byte[] input, AllocationMeter meter)
    {
        meter.Start();
        var plain = GossipPacket.TryRead(input, null, out var fromPlain);
        var sealedStatus = GossipPacket.TryRead(input, Key, out var fromSealed);
        meter.Stop();

        Check(plain, fromPlain, sealedExpected: false, input);
        Check(sealedStatus, fromSealed, sealedExpected: true, input);
        return $"plain {plain}, sealed {sealedStatus}";
    }

    private void Check(GossipReadStatus status, GossipReceived received, bool sealedExpected, byte[] input)
    {
        if (status != GossipReadStatus.Ok)
        {
            return;
        }

        var heartbeat = received.Heartbeat;
        if (heartbeat.Name.IsEmpty || !NodeName.TryParse(heartbeat.Name.Value, out _) || heartbeat.Creation == 0 || heartbeat.Port is < 1 or > 65535 || received.Sealed != sealedExpected)
        {
            throw new FuzzFailure($"{Name}: accepted a bad heartbeat ({heartbeat}, sealed {received.Sealed}): {Hex(input)}");
        }
    }
}
