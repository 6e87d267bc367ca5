using System.Net;

namespace LibCluster.Strategies.Gossip;

/// <summary>A datagram received: its length in the caller's buffer and who sent it.</summary>
internal readonly record struct GossipDatagram(int Length, EndPoint? Source);

/// <summary>
/// Where heartbeats go and come from: the UDP group (or broadcast) in production, an in-memory fake in unit tests.
/// Opened by the strategy when its enumeration starts and disposed when it ends.
/// </summary>
internal interface IGossipTransport : IDisposable
{
    /// <summary>What it sends to and listens on, for the log (for example <c>multicast 233.252.1.32:45892 on 127.0.0.1, TTL 1</c>).</summary>
    string Description { get; }

    /// <summary>Sends one heartbeat to the group.</summary>
    ValueTask SendAsync(ReadOnlyMemory<byte> packet, CancellationToken cancellationToken);

    /// <summary>Waits for the next datagram and copies it into <paramref name="buffer"/>.</summary>
    ValueTask<GossipDatagram> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);
}
