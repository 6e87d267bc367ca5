using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;

namespace LibCluster.Testing;

/// <summary>
/// Builds heartbeats as other nodes would send them, plain or sealed. Shared as source by the unit and the
/// integration tests of the <c>Gossip</c> strategy.
/// </summary>
internal static class Heartbeats
{
    public static byte[] Plain(string name, uint creation = 7, int port = 9001)
    {
        var buffer = new byte[GossipPacket.MaxLength];
        var length = GossipPacket.WritePlain(buffer, new GossipHeartbeat(NodeName.Parse(name), creation, port));
        return buffer[..length];
    }

    public static byte[] Sealed(string name, string secret, DateTimeOffset stamp, uint creation = 7, int port = 9001, byte[]? nonce = null)
    {
        using var key = GossipKey.Derive(secret);
        return Sealed(key, name, stamp, creation, port, nonce);
    }

    public static byte[] Sealed(GossipKey key, string name, DateTimeOffset stamp, uint creation = 7, int port = 9001, byte[]? nonce = null) =>
        Sealed(key, new GossipHeartbeat(NodeName.Parse(name), creation, port), stamp.ToUnixTimeMilliseconds(), nonce);

    public static byte[] Sealed(GossipKey key, GossipHeartbeat heartbeat, long timestampMs, byte[]? nonce = null)
    {
        nonce ??= System.Security.Cryptography.RandomNumberGenerator.GetBytes(GossipKey.NonceLength);
        var buffer = new byte[GossipPacket.MaxLength];
        var length = GossipPacket.WriteSealed(buffer, heartbeat, key, timestampMs, nonce);
        return buffer[..length];
    }
}
