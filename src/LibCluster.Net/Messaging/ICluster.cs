using LibCluster.Nodes;

namespace LibCluster.Messaging;

/// <summary>
/// Handles a message that arrived at a named mailbox. Each mailbox handles its messages one at a time, in
/// arrival order (messages from one node arrive in the order they were sent), like an Erlang process.
/// The payload is valid only until the returned task completes.
/// </summary>
public delegate ValueTask ClusterMessageHandler(ClusterMessage message, CancellationToken cancellationToken);

/// <summary>
/// This node's view of the cluster, and the way to talk to other nodes: named mailboxes, one-way messages,
/// request/reply and broadcast, over authenticated connections.
/// </summary>
public interface ICluster
{
    /// <summary>This node's name.</summary>
    NodeName Self { get; }

    /// <summary>This node's incarnation, random per process start.</summary>
    uint Creation { get; }

    /// <summary>The nodes with an authenticated connection right now (not including this node).</summary>
    IReadOnlyCollection<NodeName> ConnectedNodes { get; }

    /// <summary>
    /// NodeUp/NodeDown changes as they happen, starting with a NodeUp for every node connected at the call, so a
    /// watcher never misses a node. For one node, NodeDown of an old connection always comes before NodeUp of a new one.
    /// </summary>
    IAsyncEnumerable<MembershipChange> WatchAsync(CancellationToken cancellationToken = default);

    /// <summary>Completes once at least <paramref name="count"/> other nodes are connected (a readiness gate).</summary>
    Task WaitForNodesAsync(int count, CancellationToken cancellationToken = default);

    /// <summary>Connects to a node now (Erlang's <c>Node.connect/1</c>); returns at once when already connected.</summary>
    /// <exception cref="ClusterConnectException">The node could not be reached or did not authenticate.</exception>
    ValueTask ConnectAsync(NodeAddress node, CancellationToken cancellationToken = default);

    /// <summary>Closes the connection to a node, telling it why. A topology that wants the node will connect it again.</summary>
    ValueTask DisconnectAsync(NodeName node, CancellationToken cancellationToken = default);

    /// <summary>Registers a named mailbox on this node. Dispose the result to unregister it.</summary>
    /// <exception cref="InvalidOperationException">A mailbox of that name is already registered.</exception>
    IDisposable Register(string mailbox, ClusterMessageHandler handler);

    /// <summary>Registers a named mailbox with options (for example <see cref="MailboxOptions.Inline"/> for the lowest latency).</summary>
    /// <exception cref="InvalidOperationException">A mailbox of that name is already registered.</exception>
    IDisposable Register(string mailbox, ClusterMessageHandler handler, MailboxOptions options);

    /// <summary>
    /// Sends a one-way message to a mailbox on a node (this node included). Completes when the message is queued
    /// for sending; waits while the connection's outbound buffer is full. A message for a mailbox that does not
    /// exist is dropped by the receiver, as in Erlang.
    /// </summary>
    /// <exception cref="NodeDownException">The node is not connected.</exception>
    ValueTask SendAsync(NodeName node, string mailbox, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);

    /// <summary>Sends a request to a mailbox on a node and waits for the handler's reply.</summary>
    /// <exception cref="NodeDownException">The node is not connected, or its connection dropped before the reply.</exception>
    /// <exception cref="MailboxNotFoundException">The node has no such mailbox.</exception>
    /// <exception cref="RemoteHandlerException">The handler threw or did not reply.</exception>
    /// <exception cref="ClusterRequestTimeoutException">No reply within <paramref name="timeout"/>.</exception>
    ValueTask<ClusterReply> RequestAsync(NodeName node, string mailbox, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken = default);

    /// <summary>Sends a message to the mailbox on every connected node and on this node; nodes that drop meanwhile are skipped.</summary>
    ValueTask BroadcastAsync(string mailbox, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default);
}
