using System.Globalization;
using System.Net;
using System.Net.Sockets;
using LibCluster.Eureka.CloudFoundry;
using LibCluster.Nodes;

namespace LibCluster.Eureka;

/// <summary>The OAuth2 client (client-credentials grant) the registry wants. <c>ToString</c> leaves the secret out.</summary>
internal sealed class OAuthClientSettings
{
    public required Uri TokenUri { get; init; }

    public required string ClientId { get; init; }

    public required string ClientSecret { get; init; }

    public override string ToString() => $"client {ClientId} at {TokenUri}";
}

/// <summary>
/// Everything one run of the strategy needs, worked out from the options, Cloud Foundry's environment and the node:
/// the registry, how to authenticate, and what this node registers as. <c>ToString</c> leaves secrets out.
/// </summary>
internal sealed class EurekaSettings
{
    /// <summary>The registry's base URL, absolute, ending in <c>/</c>, without user information.</summary>
    public required Uri ServiceUrl { get; init; }

    /// <summary>HTTP Basic credentials (<c>user:password</c>) taken from the configured URL. Never logged.</summary>
    public string? BasicCredentials { get; init; }

    /// <summary>The OAuth2 client, when the registry wants bearer tokens.</summary>
    public OAuthClientSettings? OAuth { get; init; }

    /// <summary>Where the registry settings came from, for the logs.</summary>
    public required string Source { get; init; }

    /// <summary>The application name, upper-cased as Eureka stores it.</summary>
    public required string AppName { get; init; }

    /// <summary>The VIP address registered (the app name in lower case, as Spring registers it).</summary>
    public required string VipAddress { get; init; }

    public required string InstanceId { get; init; }

    public required string HostName { get; init; }

    public required string IpAddress { get; init; }

    /// <summary>The service port registered in <c>port.$</c>.</summary>
    public required int Port { get; init; }

    /// <summary>This node's dist port, registered in the metadata.</summary>
    public required int DistPort { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    public required TimeSpan PollingInterval { get; init; }

    public required TimeSpan RenewalInterval { get; init; }

    public required TimeSpan LeaseDuration { get; init; }

    public required TimeSpan DeregistrationTimeout { get; init; }

    /// <summary>The Cloud Foundry service binding the registry comes from, if any.</summary>
    public string? BindingName { get; init; }

    /// <summary>The other bound service registries, ignored because a binding was chosen.</summary>
    public IReadOnlyList<string> IgnoredBindings { get; init; } = [];

    /// <summary><c>leaseInfo.renewalIntervalInSecs</c>: whole seconds, rounded up, at least one.</summary>
    public int RenewalIntervalSeconds => WholeSeconds(RenewalInterval);

    /// <summary><c>leaseInfo.durationInSecs</c>: whole seconds, rounded up, at least one.</summary>
    public int LeaseDurationSeconds => WholeSeconds(LeaseDuration);

    public override string ToString() => $"{AppName}/{InstanceId} at {ServiceUrl} (from {Source})";

    /// <summary>
    /// Checks the options against the environment; every error starts with its config key under
    /// <paramref name="configPath"/>, for example <c>LibCluster:Topologies:cf:Config:ServiceUrl is required ...</c>.
    /// </summary>
    public static IReadOnlyList<string> Validate(EurekaStrategyOptions options, string configPath, IEnvironmentVariables environment)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configPath);
        ArgumentNullException.ThrowIfNull(environment);
        var errors = new List<string>();
        var cf = CloudFoundryEnvironment.Read(environment, options.UseCloudFoundryBinding, options.ServiceBindingName);
        ResolveRegistry(options, cf, configPath, errors);
        CheckTimings(options, configPath, errors);
        CheckNodeOptions(options, configPath, errors);
        return errors;
    }

    /// <summary>Works out the settings for this node; throws <see cref="InvalidOperationException"/> listing the problems.</summary>
    public static async ValueTask<EurekaSettings> ResolveAsync(
        EurekaStrategyOptions options,
        IEnvironmentVariables environment,
        string configPath,
        NodeName self,
        int distPort,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(environment);
        var errors = new List<string>();
        var cf = CloudFoundryEnvironment.Read(environment, options.UseCloudFoundryBinding, options.ServiceBindingName);
        var registry = ResolveRegistry(options, cf, configPath, errors);
        CheckTimings(options, configPath, errors);
        CheckNodeOptions(options, configPath, errors);
        if (registry is null || errors.Count > 0)
        {
            throw new InvalidOperationException("The Eureka strategy cannot start: " + string.Join(" ", errors));
        }

        var instanceId = Trimmed(options.InstanceId)
            ?? (cf.IsInstance ? $"{cf.InstanceInternalIp}:{cf.InstanceGuid}" : $"{self}:{distPort.ToString(CultureInfo.InvariantCulture)}");
        var hostName = Trimmed(options.HostName) ?? cf.InstanceInternalIp ?? self.Host;
        var ipAddress = Trimmed(options.IpAddress) ?? cf.InstanceInternalIp ?? await DefaultIpAddressAsync(self.Host, cancellationToken).ConfigureAwait(false);
        var port = options.Port ?? (cf.IsInstance ? cf.Port : null) ?? distPort;

        var metadata = new Dictionary<string, string>(options.Metadata, StringComparer.Ordinal)
        {
            [EurekaDefaults.NodeMetadataKey] = self.Value,
            [EurekaDefaults.PortMetadataKey] = distPort.ToString(CultureInfo.InvariantCulture),
        };
        if (cf.InstanceIndex is { } index)
        {
            metadata.TryAdd(EurekaDefaults.CfInstanceIndexMetadataKey, index);
        }

        if (cf.ApplicationId is { } appGuid)
        {
            metadata.TryAdd(EurekaDefaults.CfAppGuidMetadataKey, appGuid);
        }

        if (cf.InstanceGuid is { } instanceGuid)
        {
            metadata.TryAdd(EurekaDefaults.CfInstanceGuidMetadataKey, instanceGuid);
        }

        return new EurekaSettings
        {
            ServiceUrl = registry.ServiceUrl,
            BasicCredentials = registry.BasicCredentials,
            OAuth = registry.OAuth,
            Source = registry.Source,
            BindingName = registry.BindingName,
            IgnoredBindings = registry.IgnoredBindings,
            AppName = registry.AppName.ToUpperInvariant(),
            VipAddress = registry.AppName.ToLowerInvariant(),
            InstanceId = instanceId,
            HostName = hostName,
            IpAddress = ipAddress,
            Port = port,
            DistPort = distPort,
            Metadata = metadata,
            PollingInterval = options.PollingInterval,
            RenewalInterval = options.RenewalInterval,
            LeaseDuration = options.LeaseDuration,
            DeregistrationTimeout = options.DeregistrationTimeout,
        };
    }

    private static RegistrySettings? ResolveRegistry(EurekaStrategyOptions options, CloudFoundryEnvironment cf, string path, List<string> errors)
    {
        foreach (var problem in cf.Problems)
        {
            errors.Add($"{path}: {problem}");
        }

        Uri? serviceUrl = null;
        string? basic = null;
        OAuthClientSettings? oauth = null;
        string source;
        string? bindingName = null;
        IReadOnlyList<string> ignored = [];
        if (cf.Registry is { } binding)
        {
            serviceUrl = binding.ServiceUrl;
            source = $"the Cloud Foundry service binding '{binding.Name}'";
            bindingName = binding.Name;
            ignored = cf.RegistryBindingNames.Where(n => n != binding.Name).ToArray();
            if (binding.AccessTokenUri is not null)
            {
                oauth = new OAuthClientSettings { TokenUri = binding.AccessTokenUri, ClientId = binding.ClientId!, ClientSecret = binding.ClientSecret! };
            }
        }
        else
        {
            source = "configuration";
            var text = Trimmed(options.ServiceUrl);
            if (text is null)
            {
                errors.Add(
                    $"{path}:ServiceUrl is required outside Cloud Foundry (no service registry is bound in {CloudFoundryEnvironment.VcapServicesVariable}): "
                    + "set it to the registry's URL, for example http://localhost:8761/eureka/.");
            }
            else if (!CloudFoundryEnvironment.TryHttpUri(text, out var parsed) || !string.IsNullOrEmpty(parsed.Query) || !string.IsNullOrEmpty(parsed.Fragment))
            {
                // The value is not echoed: it may carry a password.
                errors.Add($"{path}:ServiceUrl is not an absolute http or https URL without query or fragment; expected for example http://localhost:8761/eureka/.");
            }
            else
            {
                (serviceUrl, basic) = SplitUserInfo(parsed);
            }
        }

        if (oauth is null)
        {
            oauth = ResolveOAuth(options, path, errors);
        }

        var appName = Trimmed(options.AppName) ?? cf.ApplicationName;
        if (appName is null)
        {
            errors.Add($"{path}:AppName is required outside Cloud Foundry (no {CloudFoundryEnvironment.VcapApplicationVariable}): set it to the Eureka application the cluster's nodes share, for example my-clustered-app.");
        }
        else if (appName.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '/' or '\\' or '?' or '#' or '%'))
        {
            errors.Add($"{path}:AppName '{appName}' has characters that do not belong in a Eureka application name; use letters, digits, '-', '_' and '.'.");
        }

        return serviceUrl is null || appName is null
            ? null
            : new RegistrySettings(serviceUrl, basic, oauth, source, bindingName, appName, ignored);
    }

    private static OAuthClientSettings? ResolveOAuth(EurekaStrategyOptions options, string path, List<string> errors)
    {
        var clientId = Trimmed(options.ClientId);
        var clientSecret = options.ClientSecret is { Length: > 0 } secret ? secret : null;
        var tokenText = Trimmed(options.AccessTokenUri);
        if (clientId is null && clientSecret is null && tokenText is null)
        {
            return null;
        }

        var ok = true;
        foreach (var (key, value) in new[] { ("ClientId", (object?)clientId), ("ClientSecret", clientSecret), ("AccessTokenUri", tokenText) })
        {
            if (value is null)
            {
                errors.Add($"{path}:{key} is required when any of ClientId, ClientSecret and AccessTokenUri is set: the OAuth2 client-credentials grant needs all three.");
                ok = false;
            }
        }

        Uri? tokenUri = null;
        if (tokenText is not null && !CloudFoundryEnvironment.TryHttpUri(tokenText, out tokenUri))
        {
            errors.Add($"{path}:AccessTokenUri is not an absolute http or https URL; expected for example https://uaa.example.com/oauth/token.");
            ok = false;
        }

        return ok ? new OAuthClientSettings { TokenUri = tokenUri!, ClientId = clientId!, ClientSecret = clientSecret! } : null;
    }

    private static void CheckTimings(EurekaStrategyOptions options, string path, List<string> errors)
    {
        CheckInterval(options.PollingInterval, $"{path}:PollingInterval", "00:00:10", errors);
        CheckInterval(options.RenewalInterval, $"{path}:RenewalInterval", "00:00:30", errors);
        CheckInterval(options.LeaseDuration, $"{path}:LeaseDuration", "00:01:30", errors);
        CheckInterval(options.DeregistrationTimeout, $"{path}:DeregistrationTimeout", "00:00:05", errors);
        if (options.RenewalInterval > TimeSpan.Zero && options.LeaseDuration > TimeSpan.Zero && options.LeaseDuration <= options.RenewalInterval)
        {
            errors.Add($"{path}:LeaseDuration {options.LeaseDuration} must be longer than RenewalInterval {options.RenewalInterval} (the defaults are 00:01:30 and 00:00:30), or the registry evicts the node between two renewals.");
        }
    }

    private static void CheckInterval(TimeSpan value, string key, string example, List<string> errors)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{key} must be positive (the default is {example}).");
        }
        else if (value > TimeSpan.FromDays(1))
        {
            errors.Add($"{key} {value} is longer than a day; note that a bare number means days: write {example}.");
        }
    }

    private static void CheckNodeOptions(EurekaStrategyOptions options, string path, List<string> errors)
    {
        if (options.InstanceId is not null && (Trimmed(options.InstanceId) is not { } id || id.Any(c => char.IsControl(c) || c is '/' or '\\' or '?' or '#')))
        {
            errors.Add($"{path}:InstanceId '{options.InstanceId}' is not usable: it must be non-empty, without '/', '\\', '?', '#' or control characters, and unique per node.");
        }

        if (options.HostName is not null && (Trimmed(options.HostName) is not { } host || host.Any(c => char.IsWhiteSpace(c) || c is '/')))
        {
            errors.Add($"{path}:HostName '{options.HostName}' is not a host name.");
        }

        if (options.IpAddress is not null && !IPAddress.TryParse(options.IpAddress.Trim(), out _))
        {
            errors.Add($"{path}:IpAddress '{options.IpAddress}' is not an IP address.");
        }

        if (options.Port is { } port && port is < 1 or > 65535)
        {
            errors.Add($"{path}:Port {port} is not a TCP port (1 to 65535).");
        }

        foreach (var (key, value) in options.Metadata)
        {
            if (!IsMetadataKey(key))
            {
                errors.Add($"{path}:Metadata:{key} is not a usable metadata key: use letters, digits, '_', '-' and '.', starting with a letter or '_' (Eureka sends metadata keys as XML element names).");
            }
            else if (key.StartsWith(EurekaDefaults.ReservedMetadataPrefix, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"{path}:Metadata:{key} uses the prefix '{EurekaDefaults.ReservedMetadataPrefix}', which the Eureka strategy reserves for its own keys.");
            }

            if (value is null)
            {
                errors.Add($"{path}:Metadata:{key} has no value.");
            }
        }
    }

    private static bool IsMetadataKey(string key) =>
        key.Length > 0
        && (char.IsAsciiLetter(key[0]) || key[0] == '_')
        && key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    private static (Uri ServiceUrl, string? BasicCredentials) SplitUserInfo(Uri uri)
    {
        var builder = new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty, Query = string.Empty, Fragment = string.Empty };
        if (!builder.Path.EndsWith('/'))
        {
            builder.Path += "/";
        }

        string? basic = null;
        if (!string.IsNullOrEmpty(uri.UserInfo))
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            basic = colon < 0
                ? Uri.UnescapeDataString(uri.UserInfo) + ":"
                : Uri.UnescapeDataString(uri.UserInfo[..colon]) + ":" + Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }

        return (builder.Uri, basic);
    }

    private static async ValueTask<string> DefaultIpAddressAsync(string host, CancellationToken cancellationToken)
    {
        var bare = host.Split('%')[0];
        if (IPAddress.TryParse(bare, out _))
        {
            return bare;
        }

        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
            return chosen?.ToString() ?? host;
        }
        catch (SocketException)
        {
            // ipAddr is informational for this strategy (nodes dial the host in the node name); the host will do.
            return host;
        }
    }

    private static int WholeSeconds(TimeSpan value) => Math.Max(1, (int)Math.Ceiling(value.TotalSeconds));

    private static string? Trimmed(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    // A class, not a record: a record's ToString would print the Basic credentials.
    private sealed class RegistrySettings(Uri serviceUrl, string? basicCredentials, OAuthClientSettings? oauth, string source, string? bindingName, string appName, IReadOnlyList<string> ignoredBindings)
    {
        public Uri ServiceUrl { get; } = serviceUrl;

        public string? BasicCredentials { get; } = basicCredentials;

        public OAuthClientSettings? OAuth { get; } = oauth;

        public string Source { get; } = source;

        public string? BindingName { get; } = bindingName;

        public string AppName { get; } = appName;

        public IReadOnlyList<string> IgnoredBindings { get; } = ignoredBindings;
    }
}
