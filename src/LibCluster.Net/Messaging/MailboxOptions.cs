namespace LibCluster.Messaging;

/// <summary>How a mailbox runs its handler.</summary>
public sealed class MailboxOptions
{
    /// <summary>
    /// Run the handler on the connection's I/O thread when the mailbox is idle, instead of on the thread pool: no
    /// thread hop, the shortest round trips. Only for handlers that never block their thread (no <c>Thread.Sleep</c>,
    /// no <c>.Result</c>, no long CPU work before the first await): while such a handler runs, nothing else from that
    /// connection is read, other mailboxes included. Off by default, like Kestrel's inline scheduling.
    /// </summary>
    public bool RunInline { get; init; }

    /// <summary>
    /// Messages this mailbox queues before the connections feeding it stop reading; null: the node's
    /// <c>LibCluster:Node:MailboxCapacity</c>. A mailbox that takes bursts from many nodes may want more.
    /// </summary>
    public int? Capacity { get; init; }

    /// <summary>Payload bytes this mailbox queues before the connections feeding it stop reading; null: the node's <c>LibCluster:Node:MailboxCapacityBytes</c>.</summary>
    public long? CapacityBytes { get; init; }

    internal static readonly MailboxOptions Default = new();

    /// <summary>Options for a handler that never blocks its thread.</summary>
    public static readonly MailboxOptions Inline = new() { RunInline = true };
}
