using Microsoft.Extensions.Configuration;

namespace LibCluster.Hosting;

/// <summary>The <c>LibCluster</c> configuration section: this node, and the topologies that discover the others.</summary>
public sealed class LibClusterOptions
{
    /// <summary>The configuration section these options are read from by default.</summary>
    public const string SectionName = "LibCluster";

    /// <summary>This node: name, cookie, listener and timing (<c>LibCluster:Node</c>).</summary>
    public NodeOptions Node { get; set; } = new();

    /// <summary>The topologies, by name (<c>LibCluster:Topologies:{name}</c>); several run at once.</summary>
    public IDictionary<string, TopologyOptions> Topologies { get; } = new Dictionary<string, TopologyOptions>(StringComparer.OrdinalIgnoreCase);
}

/// <summary>This node's identity, secret and mesh settings (<c>LibCluster:Node</c>).</summary>
public sealed class NodeOptions
{
    /// <summary>
    /// The node name, <c>basename@host</c>. When empty it is <c>{Basename}@{host}</c> with host taken from
    /// <c>CF_INSTANCE_INTERNAL_IP</c>, else the first non-loopback IPv4 address, else the machine name.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>The basename used when <see cref="Name"/> is empty.</summary>
    public string Basename { get; set; } = "app";

    /// <summary>
    /// The shared secret that every node of the cluster must know (Erlang's cookie), at least
    /// <see cref="MinCookieLength"/> characters. Required; never logged, never sent over the wire.
    /// </summary>
    public string? Cookie { get; set; }

    /// <summary>
    /// Cookies this node also accepts from nodes that dial it, besides <see cref="Cookie"/>: for changing the cookie
    /// of a running cluster without a partition. It always dials with <see cref="Cookie"/>. Each at least
    /// <see cref="MinCookieLength"/> characters; empty by default.
    /// </summary>
    public IList<string> AcceptedCookies { get; set; } = [];

    /// <summary>The address the listener binds to.</summary>
    public string ListenAddress { get; set; } = "0.0.0.0";

    /// <summary>The port the listener binds to, and the port other nodes are dialled at unless a strategy says otherwise.</summary>
    public int Port { get; set; } = 9001;

    /// <summary>A connection that receives nothing for this long is closed (<c>tick_timeout</c>); ticks go out every quarter of it.</summary>
    public TimeSpan TickTime { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a handshake may take.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a TCP connect may take.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The largest frame accepted after authentication; a bigger one closes the connection.</summary>
    public int MaxFrameBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Inbound connections allowed in the handshake at once; more are closed on arrival.</summary>
    public int MaxPendingHandshakes { get; set; } = 64;

    /// <summary>Outbound bytes buffered per connection before senders wait.</summary>
    public int MaxBufferedBytesPerConnection { get; set; } = 1024 * 1024;

    /// <summary>Messages queued per mailbox before the connections feeding it stop reading.</summary>
    public int MailboxCapacity { get; set; } = 1024;

    /// <summary>
    /// Payload bytes queued per mailbox before the connections feeding it stop reading, however few the messages
    /// (with large messages this bound is reached before <see cref="MailboxCapacity"/>).
    /// </summary>
    public long MailboxCapacityBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>Mutual TLS for the mesh (<c>LibCluster:Node:Tls</c>); off unless <see cref="TlsOptions.Enabled"/>.</summary>
    public TlsOptions Tls { get; set; } = new();

    /// <summary>The shortest cookie accepted.</summary>
    public const int MinCookieLength = 32;
}

/// <summary>
/// Mutual TLS 1.3 under the mesh's handshake (<c>LibCluster:Node:Tls</c>): every node presents a certificate and
/// accepts only peers whose certificate chains to <see cref="TrustedCaPath"/>. The cookie still decides who may join;
/// TLS adds confidentiality and integrity for everything after it.
/// </summary>
public sealed class TlsOptions
{
    /// <summary>Turns TLS on. All nodes of a cluster must agree: a TLS node and a plain node cannot talk.</summary>
    public bool Enabled { get; set; }

    /// <summary>This node's certificate: a PKCS#12 file (.pfx/.p12), or a PEM certificate with <see cref="KeyPath"/>.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of a PEM <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>The password of a PKCS#12 <see cref="CertificatePath"/>, if it has one.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// The PEM certificate(s) of the CA that signs the cluster's node certificates. Peers must chain to it. When
    /// empty the machine's trusted roots are used (then any certificate a public CA issued would pass: set it).
    /// </summary>
    public string? TrustedCaPath { get; set; }

    /// <summary>Also require the peer's certificate to name the host it was dialled at (off: node certificates rarely carry IPs).</summary>
    public bool CheckCertificateName { get; set; }
}

/// <summary>One topology: a strategy and its settings (<c>LibCluster:Topologies:{name}</c>).</summary>
public sealed class TopologyOptions
{
    /// <summary>The strategy's registered name (case-insensitive): <c>Static</c>, <c>Dns</c>, <c>Eureka</c>, ...</summary>
    public string? Strategy { get; set; }

    /// <summary>False switches the topology off without deleting it.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The strategy's settings (<c>LibCluster:Topologies:{name}:Config</c>), bound to its options type.</summary>
    public IConfiguration? Config { get; set; }

    internal List<Action<object>> ConfigureActions { get; } = [];

    /// <summary>Sets the strategy's options in code (applied after <see cref="Config"/>).</summary>
    public TopologyOptions Configure<TOptions>(Action<TOptions> configure)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(configure);
        ConfigureActions.Add(o => configure((TOptions)o));
        return this;
    }
}
