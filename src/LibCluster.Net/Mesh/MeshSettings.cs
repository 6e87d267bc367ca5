using System.Net;
using LibCluster.Nodes;

namespace LibCluster.Mesh;

/// <summary>What the mesh needs to run, resolved from the validated options by the hosting layer.</summary>
internal sealed record MeshSettings
{
    public required NodeName Name { get; init; }

    public required string Cookie { get; init; }

    /// <summary>Cookies also accepted from nodes that dial this one (a cookie being rotated in or out).</summary>
    public IReadOnlyList<string> AcceptedCookies { get; init; } = [];

    public uint Creation { get; init; } = NodeCreation.NewCreation();

    public IPAddress ListenAddress { get; init; } = IPAddress.Any;

    /// <summary>The port to listen on; 0 picks a free one (tests).</summary>
    public int Port { get; init; } = 9001;

    public TimeSpan TickTime { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    public int MaxFrameBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Connections still in the handshake at once; more are closed on arrival.</summary>
    public int MaxPendingHandshakes { get; init; } = 64;

    /// <summary>Bytes buffered per connection and direction before writers wait (backpressure).</summary>
    public long MaxBufferedBytesPerConnection { get; init; } = 1024 * 1024;

    /// <summary>Mutual TLS under the handshake, or null for plain TCP.</summary>
    public Transport.MeshTls? Tls { get; init; }

    /// <summary>Everything but the cookie, which must never reach a log.</summary>
    public override string ToString() =>
        $"MeshSettings {{ Name = {Name}, Creation = {Creation}, Listen = {ListenAddress}:{Port}, TickTime = {TickTime}, MaxFrameBytes = {MaxFrameBytes}, Tls = {Tls is not null} }}";
}
