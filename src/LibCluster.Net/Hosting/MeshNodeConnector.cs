using LibCluster.Mesh;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Hosting;

/// <summary>Gives the topology runtime its narrow view of the mesh.</summary>
internal sealed class MeshNodeConnector(ConnectionManager connections) : INodeConnector
{
    public NodeName Self => connections.Self;

    public bool IsConnected(NodeName node) => connections.IsConnected(node);

    public Task ConnectAsync(NodeAddress address, CancellationToken cancellationToken) => connections.ConnectAsync(address, cancellationToken);

    public Task DisconnectAsync(NodeName node, CancellationToken cancellationToken) => connections.DisconnectAsync(node).WaitAsync(cancellationToken);

    public IAsyncEnumerable<MembershipChange> WatchAsync(CancellationToken cancellationToken) => connections.WatchAsync(cancellationToken);
}
