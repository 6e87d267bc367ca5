using System.Buffers;
using System.Globalization;
using System.Text.Json;

namespace LibCluster.Eureka;

/// <summary>One instance as the registry lists it.</summary>
/// <param name="InstanceId">The instance id (<c>hostName</c> on old servers that send none).</param>
/// <param name="App">The application name, as sent (servers upper-case it).</param>
/// <param name="Status">UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN.</param>
/// <param name="HostName">The registered host name.</param>
/// <param name="IpAddress">The registered IP address.</param>
/// <param name="Port">The registered service port, when readable.</param>
/// <param name="Metadata">The metadata map (empty for Java's <c>EmptyMap</c>).</param>
/// <param name="LastUpdated">When the instance last (re-)registered, in Unix milliseconds, when the server says.</param>
internal sealed record EurekaInstance(
    string InstanceId,
    string App,
    string Status,
    string? HostName,
    string? IpAddress,
    int? Port,
    IReadOnlyDictionary<string, string> Metadata,
    long? LastUpdated = null)
{
    public bool IsUp => string.Equals(Status, "UP", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The instances read from a response, and a reason for each entry that could not be read.</summary>
internal sealed record EurekaApplications(IReadOnlyList<EurekaInstance> Instances, IReadOnlyList<string> Skipped);

/// <summary>
/// Reads and writes Eureka's JSON as real servers send and accept it. Reading is lenient in the ways servers differ:
/// <c>application</c> and <c>instance</c> are an object or an array, numbers and booleans may be strings, an empty
/// metadata map is <c>{"@class":"java.util.Collections$EmptyMap"}</c>, and unknown fields are ignored. A response that
/// is not Eureka JSON at all is a <see cref="FormatException"/>; an instance that cannot be read is skipped.
/// </summary>
internal static class EurekaJson
{
    public const string DataCenterInfoClass = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo";

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 32 };

    /// <summary>Reads the answer to <c>GET apps</c> or <c>GET apps/{APP}</c>.</summary>
    /// <exception cref="FormatException">The body is not JSON, or not shaped like Eureka's applications.</exception>
    public static EurekaApplications ParseApplications(ReadOnlyMemory<byte> utf8Json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8Json, DocumentOptions);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"The body is not valid JSON ({ex.Message}).", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"The body is a JSON {Describe(root.ValueKind)}, not Eureka's object with 'application' or 'applications'.");
            }

            var instances = new List<EurekaInstance>();
            var skipped = new List<string>();
            if (root.TryGetProperty("application", out var application))
            {
                ReadApplications(application, instances, skipped);
            }
            else if (root.TryGetProperty("applications", out var applications))
            {
                if (applications.ValueKind == JsonValueKind.Object)
                {
                    if (applications.TryGetProperty("application", out var list))
                    {
                        ReadApplications(list, instances, skipped);
                    }
                }
                else if (!IsNothing(applications))
                {
                    throw new FormatException($"'applications' is a JSON {Describe(applications.ValueKind)}, not an object.");
                }
            }
            else
            {
                throw new FormatException("The body is JSON but has neither 'application' nor 'applications': it is not a Eureka registry's answer.");
            }

            return new EurekaApplications(instances, skipped);
        }
    }

    /// <summary>The body of <c>POST apps/{APP}</c> for this node.</summary>
    public static byte[] WriteRegistration(EurekaSettings settings, long timestampMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            var timestamp = timestampMilliseconds.ToString(CultureInfo.InvariantCulture);
            writer.WriteStartObject();
            writer.WriteStartObject("instance");
            writer.WriteString("instanceId", settings.InstanceId);
            writer.WriteString("app", settings.AppName);
            writer.WriteString("hostName", settings.HostName);
            writer.WriteString("ipAddr", settings.IpAddress);
            writer.WriteString("status", "UP");
            writer.WriteString("overriddenStatus", "UNKNOWN");
            writer.WriteStartObject("port");
            writer.WriteNumber("$", settings.Port);
            writer.WriteString("@enabled", "true");
            writer.WriteEndObject();
            writer.WriteStartObject("securePort");
            writer.WriteNumber("$", 443);
            writer.WriteString("@enabled", "false");
            writer.WriteEndObject();
            writer.WriteNumber("countryId", 1);
            writer.WriteStartObject("dataCenterInfo");
            writer.WriteString("@class", DataCenterInfoClass);
            writer.WriteString("name", "MyOwn");
            writer.WriteEndObject();
            writer.WriteStartObject("leaseInfo");
            writer.WriteNumber("renewalIntervalInSecs", settings.RenewalIntervalSeconds);
            writer.WriteNumber("durationInSecs", settings.LeaseDurationSeconds);
            writer.WriteEndObject();
            writer.WriteString("vipAddress", settings.VipAddress);
            writer.WriteString("secureVipAddress", settings.VipAddress);
            writer.WriteStartObject("metadata");
            foreach (var (key, value) in settings.Metadata.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            writer.WriteString("isCoordinatingDiscoveryServer", "false");
            writer.WriteString("lastUpdatedTimestamp", timestamp);
            writer.WriteString("lastDirtyTimestamp", timestamp);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void ReadApplications(JsonElement applications, List<EurekaInstance> instances, List<string> skipped)
    {
        foreach (var application in Items(applications, "application"))
        {
            if (application.ValueKind != JsonValueKind.Object)
            {
                skipped.Add($"an application entry is a JSON {Describe(application.ValueKind)}, not an object");
                continue;
            }

            var appName = ReadString(application, "name");
            if (!application.TryGetProperty("instance", out var list))
            {
                continue;
            }

            foreach (var instance in Items(list, "instance"))
            {
                if (instance.ValueKind != JsonValueKind.Object)
                {
                    skipped.Add($"an instance of {appName ?? "an application"} is a JSON {Describe(instance.ValueKind)}, not an object");
                    continue;
                }

                if (ReadInstance(instance, appName) is { } read)
                {
                    instances.Add(read);
                }
                else
                {
                    skipped.Add($"an instance of {appName ?? "an application"} has neither instanceId nor hostName");
                }
            }
        }
    }

    private static EurekaInstance? ReadInstance(JsonElement instance, string? appName)
    {
        var hostName = ReadString(instance, "hostName");
        var id = ReadString(instance, "instanceId") ?? hostName;
        if (string.IsNullOrEmpty(id))
        {
            return null;
        }

        int? port = null;
        if (instance.TryGetProperty("port", out var portElement))
        {
            port = ReadInt(portElement);
        }

        return new EurekaInstance(
            id,
            ReadString(instance, "app") ?? appName ?? string.Empty,
            ReadString(instance, "status") ?? "UNKNOWN",
            hostName,
            ReadString(instance, "ipAddr"),
            port,
            ReadMetadata(instance),
            ReadLong(instance, "lastUpdatedTimestamp") ?? ReadLong(instance, "lastDirtyTimestamp"));
    }

    private static Dictionary<string, string> ReadMetadata(JsonElement instance)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (instance.TryGetProperty("metadata", out var map) && map.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in map.EnumerateObject())
            {
                // Jackson writes Java's empty map as {"@class":"java.util.Collections$EmptyMap"}.
                if (entry.Name == "@class")
                {
                    continue;
                }

                if (AsString(entry.Value) is { } value)
                {
                    metadata[entry.Name] = value;
                }
            }
        }

        return metadata;
    }

    // An array's items, a lone object as one item, nothing for null, "" or a missing value.
    private static IEnumerable<JsonElement> Items(JsonElement value, string what)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    yield return item;
                }

                break;
            case JsonValueKind.Object:
                yield return value;
                break;
            default:
                if (!IsNothing(value))
                {
                    throw new FormatException($"'{what}' is a JSON {Describe(value.ValueKind)}, not an object or an array.");
                }

                break;
        }
    }

    private static bool IsNothing(JsonElement value) =>
        value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
        || (value.ValueKind == JsonValueKind.String && value.GetString()!.Length == 0);

    private static string? ReadString(JsonElement parent, string property) =>
        parent.TryGetProperty(property, out var value) ? AsString(value) : null;

    // Strings as they are; numbers and booleans as their text; {"$": x} (XStream's form) as x.
    private static string? AsString(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Object when value.TryGetProperty("$", out var inner) => AsString(inner),
        _ => null,
    };

    // {"$": 8080, "@enabled": "true"}, {"$": "8080"}, 8080 or "8080".
    private static int? ReadInt(JsonElement value) =>
        AsString(value) is { } text && int.TryParse(text, NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    private static long? ReadLong(JsonElement parent, string property) =>
        ReadString(parent, property) is { } text && long.TryParse(text, NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite, CultureInfo.InvariantCulture, out var number)
            ? number
            : null;

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.Object => "object",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        _ => "null",
    };
}
