using LibCluster.Nodes;

namespace LibCluster;

/// <summary>The base of the errors LibCluster.Net reports to application code.</summary>
public class ClusterException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ClusterException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public ClusterException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>The node is not connected, or its connection dropped while a message or request was on its way.</summary>
public sealed class NodeDownException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    public NodeDownException(NodeName node, string reason)
        : base($"Node {node} is not connected ({reason}).")
    {
        Node = node;
        Reason = reason;
    }

    /// <summary>The node.</summary>
    public NodeName Node { get; }

    /// <summary>Why the node is down, one of <see cref="DisconnectReasons"/> (or <c>not_connected</c>).</summary>
    public string Reason { get; }
}

/// <summary>A connection to a node could not be made.</summary>
public sealed class ClusterConnectException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    public ClusterConnectException(NodeAddress address, string reason, string message, Exception? innerException = null)
        : base($"Could not connect to {address}: {message}", innerException)
    {
        Address = address;
        Reason = reason;
    }

    /// <summary>The address that was dialled.</summary>
    public NodeAddress Address { get; }

    /// <summary>A short reason: <c>refused</c>, <c>timeout</c>, <c>bad_cookie</c>, <c>unexpected_peer</c>, ...</summary>
    public string Reason { get; }
}

/// <summary>The remote node has no mailbox of that name.</summary>
public sealed class MailboxNotFoundException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    public MailboxNotFoundException(NodeName node, string mailbox)
        : base($"Node {node} has no mailbox named '{mailbox}'.")
    {
        Node = node;
        Mailbox = mailbox;
    }

    /// <summary>The node asked.</summary>
    public NodeName Node { get; }

    /// <summary>The mailbox name that was not found.</summary>
    public string Mailbox { get; }
}

/// <summary>The handler of the remote mailbox threw, or returned without replying to a request.</summary>
public sealed class RemoteHandlerException : ClusterException
{
    /// <summary>Creates the exception.</summary>
    public RemoteHandlerException(NodeName node, string mailbox, string remoteMessage)
        : base($"The handler of mailbox '{mailbox}' on node {node} failed: {remoteMessage}")
    {
        Node = node;
        Mailbox = mailbox;
        RemoteMessage = remoteMessage;
    }

    /// <summary>The node that handled the request.</summary>
    public NodeName Node { get; }

    /// <summary>The mailbox.</summary>
    public string Mailbox { get; }

    /// <summary>What the remote node said went wrong.</summary>
    public string RemoteMessage { get; }
}

/// <summary>A request got no reply within its timeout.</summary>
public sealed class ClusterRequestTimeoutException : TimeoutException
{
    /// <summary>Creates the exception.</summary>
    public ClusterRequestTimeoutException(NodeName node, string mailbox, TimeSpan timeout)
        : base($"Mailbox '{mailbox}' on node {node} did not reply within {timeout.TotalMilliseconds:0} ms.")
    {
        Node = node;
        Mailbox = mailbox;
    }

    /// <summary>The node asked.</summary>
    public NodeName Node { get; }

    /// <summary>The mailbox.</summary>
    public string Mailbox { get; }
}
