using System.Runtime.CompilerServices;
using System.Text;
using LibCluster.Mesh;
using LibCluster.Mesh.Framing;
using LibCluster.Nodes;

namespace LibCluster.Messaging;

/// <summary>The <see cref="ICluster"/> of this node: the connection manager for the nodes, the mailboxes for the messages.</summary>
internal sealed class Cluster(ConnectionManager connections, MailboxRegistry mailboxes, TimeProvider time) : ICluster
{
    public NodeName Self => connections.Self;

    public uint Creation => connections.Creation;

    public IReadOnlyCollection<NodeName> ConnectedNodes => connections.ConnectedNodes;

    public IAsyncEnumerable<MembershipChange> WatchAsync(CancellationToken cancellationToken = default) => connections.WatchAsync(cancellationToken);

    public async Task WaitForNodesAsync(int count, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count == 0)
        {
            return;
        }

        var up = new HashSet<NodeName>();
        await foreach (var change in connections.WatchAsync(cancellationToken).ConfigureAwait(false))
        {
            if (change.Kind == MembershipChangeKind.NodeUp)
            {
                up.Add(change.Node);
            }
            else
            {
                up.Remove(change.Node);
            }

            if (up.Count >= count)
            {
                return;
            }
        }

        throw new OperationCanceledException("The node stopped before enough nodes were connected.");
    }

    public ValueTask ConnectAsync(NodeAddress node, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new ValueTask(connections.ConnectAsync(node, cancellationToken));
    }

    public async ValueTask DisconnectAsync(NodeName node, CancellationToken cancellationToken = default) =>
        await connections.DisconnectAsync(node).WaitAsync(cancellationToken).ConfigureAwait(false);

    public IDisposable Register(string mailbox, ClusterMessageHandler handler) => mailboxes.Register(mailbox, handler, MailboxOptions.Default);

    public IDisposable Register(string mailbox, ClusterMessageHandler handler, MailboxOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return mailboxes.Register(mailbox, handler, options);
    }

    public ValueTask SendAsync(NodeName node, string mailbox, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        MailboxRegistry.ValidateName(mailbox);
        if (node == Self)
        {
            return mailboxes.DeliverLocalAsync(mailbox, payload, null, cancellationToken);
        }

        return Connection(node).SendAsync(mailbox, payload, cancellationToken);
    }

    // The connection used last: a stream to one node skips even the lock-free lookup. A closing connection is never
    // reused, and the active connection of a node only changes after the old one has started closing.
    private Route? _lastRoute;

    private PeerConnection Connection(NodeName node)
    {
        if (_lastRoute is { } route && route.Node == node && !route.Connection.IsClosed)
        {
            return route.Connection;
        }

        var connection = connections.GetConnection(node) ?? throw new NodeDownException(node, "not_connected");
        _lastRoute = new Route(node, connection);
        return connection;
    }

    private sealed record Route(NodeName Node, PeerConnection Connection);

    // Pooled state machine: a round trip allocates little besides its reply.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ClusterReply> RequestAsync(NodeName node, string mailbox, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        MailboxRegistry.ValidateName(mailbox);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        ReplyResult result;
        try
        {
            result = node == Self
                ? await RequestSelfAsync(mailbox, payload, timeout, cancellationToken).ConfigureAwait(false)
                : await Connection(node).RequestAsync(mailbox, payload, timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new ClusterRequestTimeoutException(node, mailbox, timeout);
        }

        return result.Status switch
        {
            ReplyStatus.Ok => new ClusterReply(node, result.Payload),
            ReplyStatus.NoMailbox => throw new MailboxNotFoundException(node, mailbox),
            _ => throw new RemoteHandlerException(node, mailbox, Encoding.UTF8.GetString(result.Payload)),
        };
    }

    /// <summary>A request to a mailbox on this node: <see cref="TimeoutException"/> when it takes longer than <paramref name="timeout"/>.</summary>
    private async Task<ReplyResult> RequestSelfAsync(string mailbox, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token) : null;
        var token = (linked ?? timer).Token;
        try
        {
            var local = new TaskCompletionSource<ReplyResult>(TaskCreationOptions.RunContinuationsAsynchronously);
            await mailboxes.DeliverLocalAsync(mailbox, payload, local, token).ConfigureAwait(false);
            return await local.Task.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timer.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException();
        }
    }

    public async ValueTask BroadcastAsync(string mailbox, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        MailboxRegistry.ValidateName(mailbox);
        var sends = new List<Task>();
        foreach (var connection in connections.GetConnections())
        {
            sends.Add(SendSkippingDownAsync(connection, mailbox, payload, cancellationToken));
        }

        sends.Add(mailboxes.DeliverLocalAsync(mailbox, payload, null, cancellationToken).AsTask());
        await Task.WhenAll(sends).ConfigureAwait(false);
    }

    private static async Task SendSkippingDownAsync(PeerConnection connection, string mailbox, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        try
        {
            await connection.SendAsync(mailbox, payload, cancellationToken).ConfigureAwait(false);
        }
        catch (NodeDownException)
        {
            // The node left while the broadcast went out; it is not part of the cluster any more.
        }
    }
}
