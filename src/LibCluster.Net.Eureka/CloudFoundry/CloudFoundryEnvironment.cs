using System.Globalization;
using System.Text.Json;

namespace LibCluster.Eureka.CloudFoundry;

/// <summary>
/// A service registry bound to the app in <c>VCAP_SERVICES</c> (Spring Cloud Services' <c>p-service-registry</c>, or
/// <c>p.service-registry</c> in SCS 3.x). Not a record: a record's <c>ToString</c> would print the secret.
/// </summary>
internal sealed class ServiceRegistryBinding
{
    /// <summary>The binding's name (the service instance's name, e.g. <c>service-registry</c>).</summary>
    public required string Name { get; init; }

    /// <summary>The service's label (<c>p-service-registry</c>, <c>p.service-registry</c>, ...).</summary>
    public required string Label { get; init; }

    /// <summary><c>credentials.uri</c>: the registry's root, without <c>/eureka/</c>.</summary>
    public required Uri Uri { get; init; }

    /// <summary><c>credentials.client_id</c>.</summary>
    public string? ClientId { get; init; }

    /// <summary><c>credentials.client_secret</c>. Never logged.</summary>
    public string? ClientSecret { get; init; }

    /// <summary><c>credentials.access_token_uri</c>: the OAuth2 token endpoint.</summary>
    public Uri? AccessTokenUri { get; init; }

    /// <summary>The service URL the Eureka REST operations are relative to: <c>{uri}/eureka/</c>.</summary>
    public Uri ServiceUrl => new(Uri.AbsoluteUri.TrimEnd('/') + "/eureka/");

    public override string ToString() => $"{Name} ({Label})";
}

/// <summary>What Cloud Foundry tells an app instance about itself and its bound services.</summary>
internal sealed class CloudFoundryEnvironment
{
    public const string VcapServicesVariable = "VCAP_SERVICES";
    public const string VcapApplicationVariable = "VCAP_APPLICATION";
    public const string InstanceIndexVariable = "CF_INSTANCE_INDEX";
    public const string InstanceGuidVariable = "CF_INSTANCE_GUID";
    public const string InstanceInternalIpVariable = "CF_INSTANCE_INTERNAL_IP";
    public const string PortVariable = "PORT";

    private static readonly string[] RegistryLabels = ["p-service-registry", "p.service-registry"];

    private CloudFoundryEnvironment()
    {
    }

    /// <summary>The service registry binding to use, if one is bound.</summary>
    public ServiceRegistryBinding? Registry { get; private set; }

    /// <summary>The names of every bound service registry, in the order of <c>VCAP_SERVICES</c>.</summary>
    public IReadOnlyList<string> RegistryBindingNames { get; private set; } = [];

    /// <summary><c>application_name</c> of <c>VCAP_APPLICATION</c>.</summary>
    public string? ApplicationName { get; private set; }

    /// <summary><c>application_id</c> of <c>VCAP_APPLICATION</c>: the app's guid.</summary>
    public string? ApplicationId { get; private set; }

    /// <summary><c>CF_INSTANCE_GUID</c>: this instance's (container's) guid.</summary>
    public string? InstanceGuid { get; private set; }

    /// <summary><c>CF_INSTANCE_INTERNAL_IP</c>: the container's address on the overlay network.</summary>
    public string? InstanceInternalIp { get; private set; }

    /// <summary><c>CF_INSTANCE_INDEX</c>: this instance's index (0, 1, ...).</summary>
    public string? InstanceIndex { get; private set; }

    /// <summary><c>PORT</c>: the port the app's HTTP server listens on inside the container.</summary>
    public int? Port { get; private set; }

    /// <summary>What could not be read (malformed JSON, a binding without credentials); each names its variable.</summary>
    public IReadOnlyList<string> Problems { get; private set; } = [];

    /// <summary>True when this instance runs in a Cloud Foundry container (it has an instance guid and internal IP).</summary>
    public bool IsInstance => InstanceGuid is not null && InstanceInternalIp is not null;

    /// <summary>Reads the environment; <paramref name="bindingName"/> picks one registry when several are bound.</summary>
    public static CloudFoundryEnvironment Read(IEnvironmentVariables environment, bool readBindings, string? bindingName)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var problems = new List<string>();
        var result = new CloudFoundryEnvironment
        {
            InstanceGuid = NonEmpty(environment.Get(InstanceGuidVariable)),
            InstanceInternalIp = NonEmpty(environment.Get(InstanceInternalIpVariable)),
            InstanceIndex = NonEmpty(environment.Get(InstanceIndexVariable)),
        };

        // PORT is common outside Cloud Foundry too, with other meanings: a value that is not a port is ignored, not an error.
        if (NonEmpty(environment.Get(PortVariable)) is { } port
            && int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 65535)
        {
            result.Port = value;
        }

        if (NonEmpty(environment.Get(VcapApplicationVariable)) is { } application)
        {
            ReadApplication(application, result, problems);
        }

        if (readBindings && NonEmpty(environment.Get(VcapServicesVariable)) is { } services)
        {
            ReadServices(services, bindingName, result, problems);
        }
        else if (readBindings && bindingName is not null)
        {
            problems.Add($"ServiceBindingName is '{bindingName}' but {VcapServicesVariable} is not set.");
        }

        result.Problems = problems;
        return result;
    }

    private static void ReadApplication(string json, CloudFoundryEnvironment result, List<string> problems)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                problems.Add($"{VcapApplicationVariable} is not a JSON object.");
                return;
            }

            result.ApplicationName = NonEmpty(GetString(document.RootElement, "application_name") ?? GetString(document.RootElement, "name"));
            result.ApplicationId = NonEmpty(GetString(document.RootElement, "application_id"));
        }
        catch (JsonException ex)
        {
            problems.Add($"{VcapApplicationVariable} is not valid JSON: {ex.Message}");
        }
    }

    private static void ReadServices(string json, string? bindingName, CloudFoundryEnvironment result, List<string> problems)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            problems.Add($"{VcapServicesVariable} is not valid JSON: {ex.Message}");
            return;
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                problems.Add($"{VcapServicesVariable} is not a JSON object of service labels.");
                return;
            }

            var registries = new List<(string Name, string Label, JsonElement Binding)>();
            var named = default((string Name, string Label, JsonElement Binding)?);
            var allNames = new List<string>();
            foreach (var service in document.RootElement.EnumerateObject())
            {
                if (service.Value.ValueKind != JsonValueKind.Array)
                {
                    continue;
                }

                foreach (var binding in service.Value.EnumerateArray())
                {
                    if (binding.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }

                    var label = GetString(binding, "label") ?? service.Name;
                    var name = GetString(binding, "name") ?? GetString(binding, "instance_name") ?? label;
                    allNames.Add(name);
                    if (bindingName is not null && string.Equals(name, bindingName, StringComparison.Ordinal))
                    {
                        named = (name, label, binding);
                    }

                    if (IsRegistry(service.Name, label, binding))
                    {
                        registries.Add((name, label, binding));
                    }
                }
            }

            result.RegistryBindingNames = registries.Select(r => r.Name).ToArray();
            (string Name, string Label, JsonElement Binding)? chosen;
            if (bindingName is not null)
            {
                chosen = named;
                if (chosen is null)
                {
                    problems.Add($"{VcapServicesVariable} has no service binding named '{bindingName}' (bound: {(allNames.Count == 0 ? "none" : string.Join(", ", allNames))}).");
                    return;
                }
            }
            else
            {
                chosen = registries.Count > 0 ? registries[0] : null;
            }

            if (chosen is { } found)
            {
                result.Registry = ReadBinding(found.Name, found.Label, found.Binding, problems);
            }
        }
    }

    private static bool IsRegistry(string serviceKey, string label, JsonElement binding)
    {
        if (RegistryLabels.Contains(serviceKey, StringComparer.OrdinalIgnoreCase) || RegistryLabels.Contains(label, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        if (binding.TryGetProperty("tags", out var tags) && tags.ValueKind == JsonValueKind.Array)
        {
            foreach (var tag in tags.EnumerateArray())
            {
                if (tag.ValueKind == JsonValueKind.String && string.Equals(tag.GetString(), "eureka", StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static ServiceRegistryBinding? ReadBinding(string name, string label, JsonElement binding, List<string> problems)
    {
        var where = $"{VcapServicesVariable}: the service registry binding '{name}'";
        if (!binding.TryGetProperty("credentials", out var credentials) || credentials.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"{where} has no credentials object.");
            return null;
        }

        var uriText = NonEmpty(GetString(credentials, "uri"));
        if (uriText is null)
        {
            problems.Add($"{where} has no credentials.uri.");
            return null;
        }

        if (!TryHttpUri(uriText, out var uri))
        {
            problems.Add($"{where} has a credentials.uri that is not an absolute http or https URL.");
            return null;
        }

        var clientId = NonEmpty(GetString(credentials, "client_id"));
        var clientSecret = NonEmpty(GetString(credentials, "client_secret"));
        var tokenText = NonEmpty(GetString(credentials, "access_token_uri"));
        Uri? tokenUri = null;
        if (clientId is not null || clientSecret is not null || tokenText is not null)
        {
            if (clientId is null || clientSecret is null || tokenText is null)
            {
                problems.Add($"{where} has only part of an OAuth client: it needs credentials.client_id, credentials.client_secret and credentials.access_token_uri together.");
                return null;
            }

            if (!TryHttpUri(tokenText, out tokenUri))
            {
                problems.Add($"{where} has a credentials.access_token_uri that is not an absolute http or https URL.");
                return null;
            }
        }

        return new ServiceRegistryBinding
        {
            Name = name,
            Label = label,
            Uri = uri,
            ClientId = clientId,
            ClientSecret = clientSecret,
            AccessTokenUri = tokenUri,
        };
    }

    internal static bool TryHttpUri(string text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Uri? uri) =>
        Uri.TryCreate(text.Trim(), UriKind.Absolute, out uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static string? GetString(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
