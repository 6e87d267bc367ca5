namespace LibCluster.Mesh;

/// <summary>
/// The peer broke the mesh protocol (bad frame, oversized frame, malformed handshake, failed proof).
/// The only exception the protocol code throws for bad input; the connection is closed with its reason.
/// </summary>
internal sealed class MeshProtocolException(string reason, string message) : Exception(message)
{
    /// <summary>A short, low-cardinality reason for logs and metric tags (for example <c>frame_too_large</c>).</summary>
    public string Reason { get; } = reason;
}
