namespace LibCluster.Eureka;

/// <summary>
/// Options of the <c>Eureka</c> strategy (<c>LibCluster:Topologies:{name}:Config</c>): where the registry is, how this
/// node registers in it, and how often it renews and polls. On Cloud Foundry the service URL, the OAuth client and the
/// app name come from the bound service registry and <c>VCAP_APPLICATION</c>; everything here is then optional.
/// </summary>
public sealed class EurekaStrategyOptions
{
    /// <summary>
    /// The registry's base URL, ending in <c>/eureka/</c> for Spring Cloud's server (<c>/eureka/v2/</c> for Netflix's),
    /// for example <c>http://localhost:8761/eureka/</c>. Required outside Cloud Foundry. A user and password in the
    /// URL (<c>http://user:pass@host/eureka/</c>) are sent as HTTP Basic authentication and never logged. When a
    /// service registry is bound on Cloud Foundry (and <see cref="UseCloudFoundryBinding"/> is true) the binding's URL
    /// is used instead.
    /// </summary>
    public string? ServiceUrl { get; set; }

    /// <summary>
    /// The Eureka application the cluster's nodes register under and discover each other in (upper-cased, as Eureka
    /// does). Defaults to <c>application_name</c> of <c>VCAP_APPLICATION</c> on Cloud Foundry; required elsewhere.
    /// </summary>
    public string? AppName { get; set; }

    /// <summary>
    /// This node's instance id. Defaults to <c>{CF_INSTANCE_INTERNAL_IP}:{CF_INSTANCE_GUID}</c> on Cloud Foundry and to
    /// <c>{node name}:{dist port}</c> elsewhere; both are unique per node even when several nodes share a host. Set it
    /// only to a value that is unique per node.
    /// </summary>
    public string? InstanceId { get; set; }

    /// <summary>
    /// The <c>hostName</c> registered for this node. Defaults to <c>CF_INSTANCE_INTERNAL_IP</c> on Cloud Foundry and to
    /// the host in this node's name elsewhere. Other nodes dial the host in the node name (from the metadata), not this.
    /// </summary>
    public string? HostName { get; set; }

    /// <summary>
    /// The <c>ipAddr</c> registered for this node (an IP address literal). Defaults to <c>CF_INSTANCE_INTERNAL_IP</c>
    /// on Cloud Foundry, else the host in this node's name when it is an address, else that host resolved through DNS.
    /// </summary>
    public string? IpAddress { get; set; }

    /// <summary>
    /// The service <c>port</c> registered for this node, for other Eureka clients. Defaults to <c>PORT</c> (the app's
    /// HTTP port) on Cloud Foundry and to this node's dist port elsewhere. The dist port always travels in the metadata.
    /// </summary>
    public int? Port { get; set; }

    /// <summary>How long to wait between the end of one poll of the app's instances and the start of the next.</summary>
    public TimeSpan PollingInterval { get; set; } = EurekaDefaults.PollingInterval;

    /// <summary>How often this node renews its registration (Eureka's heartbeat).</summary>
    public TimeSpan RenewalInterval { get; set; } = EurekaDefaults.RenewalInterval;

    /// <summary>
    /// How long the registry keeps this node without a renewal before it may evict it (sent in whole seconds, rounded
    /// up). Must be longer than <see cref="RenewalInterval"/>. After the registry loses this node's registration (a
    /// registry restart), removals of other nodes are held back for this long, so that nodes that have not registered
    /// again yet are not disconnected.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = EurekaDefaults.LeaseDuration;

    /// <summary>How long the deregistration on a graceful stop may take.</summary>
    public TimeSpan DeregistrationTimeout { get; set; } = EurekaDefaults.DeregistrationTimeout;

    /// <summary>The OAuth2 client id for the client-credentials grant. Taken from the binding on Cloud Foundry.</summary>
    public string? ClientId { get; set; }

    /// <summary>The OAuth2 client secret. Taken from the binding on Cloud Foundry. Never logged.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>The OAuth2 token endpoint (<c>.../oauth/token</c>). Taken from the binding on Cloud Foundry.</summary>
    public string? AccessTokenUri { get; set; }

    /// <summary>
    /// Whether a service registry bound in <c>VCAP_SERVICES</c> (tag <c>eureka</c>, label <c>p-service-registry</c> or
    /// <c>p.service-registry</c>) supplies the service URL and the OAuth client. When false, only these options do.
    /// </summary>
    public bool UseCloudFoundryBinding { get; set; } = true;

    /// <summary>The name of the service binding to use when several service registries are bound (by default, the first).</summary>
    public string? ServiceBindingName { get; set; }

    /// <summary>
    /// More metadata to register with this node (keys are letters, digits, <c>_</c>, <c>-</c> and <c>.</c>, not
    /// starting with <c>libcluster.</c>, which this strategy uses).
    /// </summary>
    public IDictionary<string, string> Metadata { get; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>The defaults of <see cref="EurekaStrategyOptions"/> and the names this strategy registers with.</summary>
internal static class EurekaDefaults
{
    public const string StrategyName = "Eureka";

    public static readonly TimeSpan PollingInterval = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan RenewalInterval = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(90);

    public static readonly TimeSpan DeregistrationTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The metadata key carrying the node name (<c>basename@host</c>).</summary>
    public const string NodeMetadataKey = "libcluster.node";

    /// <summary>The metadata key carrying the node's dist port.</summary>
    public const string PortMetadataKey = "libcluster.port";

    /// <summary>The prefix reserved for this strategy's metadata keys.</summary>
    public const string ReservedMetadataPrefix = "libcluster.";

    /// <summary>Cloud Foundry metadata: the instance index (<c>CF_INSTANCE_INDEX</c>).</summary>
    public const string CfInstanceIndexMetadataKey = "cfInstanceIndex";

    /// <summary>Cloud Foundry metadata: the app's guid (<c>application_id</c> of <c>VCAP_APPLICATION</c>).</summary>
    public const string CfAppGuidMetadataKey = "cfAppGuid";

    /// <summary>Cloud Foundry metadata: the instance's guid (<c>CF_INSTANCE_GUID</c>).</summary>
    public const string CfInstanceGuidMetadataKey = "cfInstanceGuid";
}
