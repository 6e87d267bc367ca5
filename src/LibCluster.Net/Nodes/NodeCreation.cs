using System.Security.Cryptography;

namespace LibCluster.Nodes;

/// <summary>
/// The incarnation of a node: a random 32-bit number picked once per process start. It travels in the
/// handshake so peers can tell a restarted node from its previous life (Erlang's "creation").
/// </summary>
public static class NodeCreation
{
    /// <summary>A fresh non-zero random creation.</summary>
    public static uint NewCreation()
    {
        Span<byte> bytes = stackalloc byte[4];
        uint value;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            value = BitConverter.ToUInt32(bytes);
        }
        while (value == 0);
        return value;
    }
}
