using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Xml;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>How the stand-in fails every registry request while it is "down".</summary>
public enum Outage
{
    None,

    /// <summary>503 with an HTML page, as a router or a starting server answers.</summary>
    Unavailable,

    /// <summary>Connections are reset without an answer: a network error for the client.</summary>
    ConnectionReset,
}

/// <summary>How the stand-in spoils its answers to <c>GET</c> (registration and renewal keep working).</summary>
public enum ReadFault
{
    None,

    /// <summary>200 text/html: a login page or a proxy's error page.</summary>
    HtmlPage,

    /// <summary>200 application/json with a truncated body.</summary>
    MalformedJson,

    /// <summary>200 application/json that is valid JSON but not Eureka's shape.</summary>
    NotEurekaJson,

    /// <summary>500 with Spring's JSON error body.</summary>
    InternalServerError,

    /// <summary>A status no registry sends (418).</summary>
    SurpriseStatus,
}

internal sealed class FakeEurekaServerOptions
{
    /// <summary>The clock for leases and token expiry.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>When true, every registry request needs a valid bearer token from <see cref="FakeEurekaServer.TokenUri"/>.</summary>
    public bool RequireOAuth { get; init; }

    public string ClientId { get; init; } = "p-service-registry-3f1a7c2e-9d41-4b8e-a1c5-6e2f0b9d7a31";

    public string ClientSecret { get; init; } = "Zq8vN1xR4tY7uW0pL3kJ6hG9fD2sA5mC";

    /// <summary>How long the registry accepts a token.</summary>
    public TimeSpan TokenLifetime { get; init; } = TimeSpan.FromHours(12);

    /// <summary>The <c>expires_in</c> announced; by default <see cref="TokenLifetime"/>. Longer than it makes tokens expire "early".</summary>
    public TimeSpan? AdvertisedTokenLifetime { get; init; }
}

/// <summary>A registration as the stand-in holds it.</summary>
internal sealed record RegisteredInstance(string App, string InstanceId, string Status, JsonObject Body, int Registrations)
{
    public string? Metadata(string key) => Body["metadata"]?[key]?.GetValue<string>();

    public string? Field(string name) => Body[name]?.ToString();
}

/// <summary>
/// An in-process stand-in for Netflix Eureka — Spring Cloud Services' service registry (<c>p-service-registry</c>) on
/// Cloud Foundry — and the UAA token endpoint guarding it, on a real Kestrel listener on 127.0.0.1 (port 0). Neither
/// the Spring Eureka server nor a container image can run here, so this reproduces the behaviour clients depend on
/// (see research/eureka-and-cloud-foundry.md):
/// <list type="bullet">
/// <item>REST under <c>/eureka/</c>: <c>POST apps/{APP}</c> registers (204; 400 when instanceId, hostName, ipAddr, app or
/// dataCenterInfo.name is missing or the app does not match the path), <c>PUT apps/{APP}/{id}</c> renews (200; 404 for an
/// unknown instance), <c>DELETE apps/{APP}/{id}</c> (200 / 404), <c>GET apps</c> and <c>GET apps/{APP}</c> (200, or 404
/// with no body for an unknown app).</item>
/// <item>App names upper-cased, in the path and in the instance.</item>
/// <item><c>GET</c> answers XML unless the <c>Accept</c> header asks for JSON.</item>
/// <item>JSON shaped as the server sends it: one application or instance as an object, several as an array; numbers and
/// booleans as strings (<c>"$": "9001"</c>, <c>"@enabled": "true"</c>, timestamps); an empty metadata map as
/// <c>{"@class":"java.util.Collections$EmptyMap"}</c>.</item>
/// <item>Leases: an instance not renewed within its <c>leaseInfo.durationInSecs</c> is evicted (the real server takes up
/// to twice that and pauses eviction in self-preservation; this one is stricter).</item>
/// <item>OAuth2: <c>POST /oauth/token</c> checks the client's Basic credentials and <c>grant_type=client_credentials</c>
/// and issues expiring bearer tokens; the registry answers 401 to missing, unknown, expired or revoked tokens.</item>
/// </list>
/// Switches: <see cref="Outage"/> (503 or reset connections), <see cref="ReadFault"/> (spoilt GETs),
/// <see cref="RestartEmpty"/>, <see cref="RevokeTokens"/>.
/// </summary>
internal sealed class FakeEurekaServer : IAsyncDisposable
{
    private const string EmptyMapClass = "java.util.Collections$EmptyMap";

    private readonly FakeEurekaServerOptions _options;
    private readonly WebApplication _app;
    private readonly object _gate = new();
    private readonly Dictionary<string, Dictionary<string, Entry>> _apps = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _tokens = new(StringComparer.Ordinal);
    private readonly List<string> _issuedTokens = [];
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);
    private int _failNext;
    private volatile Outage _outage;
    private volatile ReadFault _readFault;

    private FakeEurekaServer(FakeEurekaServerOptions options, WebApplication app)
    {
        _options = options;
        _app = app;
    }

    public Uri BaseUri { get; private set; } = null!;

    /// <summary>What a client configures as <c>ServiceUrl</c>.</summary>
    public Uri ServiceUrl => new(BaseUri, "eureka/");

    public Uri TokenUri => new(BaseUri, "oauth/token");

    public FakeEurekaServerOptions Options => _options;

    public Outage Outage
    {
        get => _outage;
        set => _outage = value;
    }

    public ReadFault ReadFault
    {
        get => _readFault;
        set => _readFault = value;
    }

    public static async Task<FakeEurekaServer> StartAsync(FakeEurekaServerOptions? options = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var server = new FakeEurekaServer(options ?? new FakeEurekaServerOptions(), app);
        app.Run(server.HandleAsync);
        await app.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
        server.BaseUri = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Answers the next <paramref name="count"/> registry requests with 503, then works again: a transient failure.</summary>
    public void FailNext(int count) => Interlocked.Exchange(ref _failNext, count);

    /// <summary>Forgets every registration, as a registry restarted without peers does. Tokens stay valid (they belong to UAA).</summary>
    public void RestartEmpty()
    {
        lock (_gate)
        {
            _apps.Clear();
            Increment("restarts");
        }
    }

    /// <summary>Makes every token issued so far invalid.</summary>
    public void RevokeTokens()
    {
        lock (_gate)
        {
            _tokens.Clear();
        }
    }

    /// <summary>How often something happened: register, renew, renew_404, delete, delete_404, fetch, fetch_fault, unauthorized, token, token_refused, outage.</summary>
    public int Count(string what)
    {
        lock (_gate)
        {
            return _counters.GetValueOrDefault(what);
        }
    }

    /// <summary>Every token issued, to check that none reaches a log.</summary>
    public IReadOnlyList<string> IssuedTokens
    {
        get
        {
            lock (_gate)
            {
                return [.. _issuedTokens];
            }
        }
    }

    /// <summary>The app's live registrations (expired leases are evicted first).</summary>
    public IReadOnlyList<RegisteredInstance> Instances(string app)
    {
        lock (_gate)
        {
            EvictExpired();
            return _apps.TryGetValue(app.ToUpperInvariant(), out var instances)
                ? instances.Values.Select(e => e.ToRegistered()).OrderBy(i => i.InstanceId, StringComparer.Ordinal).ToArray()
                : [];
        }
    }

    /// <summary>Puts an instance straight into the registry (another program's, or a fictional node), with a lease that never runs out.</summary>
    public void Seed(string app, string instanceId, string status = "UP", IReadOnlyDictionary<string, string>? metadata = null, string hostName = "127.0.0.1", int port = 8080)
    {
        var body = new JsonObject
        {
            ["instanceId"] = instanceId,
            ["hostName"] = hostName,
            ["app"] = app.ToUpperInvariant(),
            ["ipAddr"] = hostName,
            ["status"] = status,
            ["port"] = new JsonObject { ["$"] = port, ["@enabled"] = "true" },
            ["dataCenterInfo"] = new JsonObject { ["@class"] = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", ["name"] = "MyOwn" },
            ["leaseInfo"] = new JsonObject { ["renewalIntervalInSecs"] = 30, ["durationInSecs"] = 90 },
            ["vipAddress"] = app.ToLowerInvariant(),
        };
        if (metadata is not null)
        {
            var map = new JsonObject();
            foreach (var (key, value) in metadata)
            {
                map[key] = value;
            }

            body["metadata"] = map;
        }

        lock (_gate)
        {
            Store(app.ToUpperInvariant(), instanceId, body, TimeSpan.MaxValue);
        }
    }

    /// <summary>Removes an instance, as a DELETE would.</summary>
    public void Remove(string app, string instanceId)
    {
        lock (_gate)
        {
            if (_apps.TryGetValue(app.ToUpperInvariant(), out var instances))
            {
                instances.Remove(instanceId);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? string.Empty;
        if (path == "/oauth/token")
        {
            await TokenAsync(context);
            return;
        }

        if (!path.StartsWith("/eureka/", StringComparison.Ordinal))
        {
            await WriteAsync(context, 404, "text/html", "<html><body><h1>Whitelabel Error Page</h1><p>There was an unexpected error (type=Not Found, status=404).</p></body></html>");
            return;
        }

        var outage = _outage;
        if (outage == Outage.None && Interlocked.Decrement(ref _failNext) >= 0)
        {
            outage = Outage.Unavailable;
        }

        switch (outage)
        {
            case Outage.Unavailable:
                Increment("outage");
                await WriteAsync(context, 503, "text/html", "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>");
                return;
            case Outage.ConnectionReset:
                Increment("outage");
                context.Abort();
                return;
        }

        if (_options.RequireOAuth && !HasValidToken(request))
        {
            Increment("unauthorized");
            context.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            await WriteAsync(context, 401, "application/json", "{\"error\":\"invalid_token\",\"error_description\":\"Access token expired or invalid\"}");
            return;
        }

        var segments = path["/eureka/".Length..].Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0 || segments[0] != "apps")
        {
            await WriteAsync(context, 404, "text/plain", string.Empty);
            return;
        }

        var method = request.Method;
        if (HttpMethods.IsGet(method) && segments.Length <= 2)
        {
            await GetAsync(context, segments.Length == 2 ? segments[1].ToUpperInvariant() : null);
        }
        else if (HttpMethods.IsPost(method) && segments.Length == 2)
        {
            await RegisterAsync(context, segments[1].ToUpperInvariant());
        }
        else if (HttpMethods.IsPut(method) && segments.Length == 3)
        {
            Renew(context, segments[1].ToUpperInvariant(), segments[2]);
        }
        else if (HttpMethods.IsDelete(method) && segments.Length == 3)
        {
            Cancel(context, segments[1].ToUpperInvariant(), segments[2]);
        }
        else
        {
            context.Response.StatusCode = 405;
        }
    }

    private async Task RegisterAsync(HttpContext context, string app)
    {
        if (context.Request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) != true)
        {
            context.Response.StatusCode = 415;
            return;
        }

        JsonObject? instance;
        try
        {
            var document = await JsonNode.ParseAsync(context.Request.Body);
            instance = document?["instance"] as JsonObject;
        }
        catch (JsonException)
        {
            context.Response.StatusCode = 400;
            return;
        }

        string? Text(string name) => instance?[name] is JsonValue value && value.TryGetValue<string>(out var s) && s.Length > 0 ? s : null;
        var id = Text("instanceId");
        var bodyApp = Text("app")?.ToUpperInvariant();
        var dataCenterName = instance?["dataCenterInfo"]?["name"] is JsonValue dc && dc.TryGetValue<string>(out var n) ? n : null;
        if (instance is null || id is null || Text("hostName") is null || Text("ipAddr") is null || bodyApp is null || dataCenterName is null || bodyApp != app)
        {
            Increment("register_400");
            context.Response.StatusCode = 400;
            return;
        }

        var lease = TimeSpan.FromSeconds(90);
        if (instance["leaseInfo"]?["durationInSecs"] is JsonValue duration && duration.TryGetValue<int>(out var seconds) && seconds > 0)
        {
            lease = TimeSpan.FromSeconds(seconds);
        }

        instance["app"] = app;
        lock (_gate)
        {
            Store(app, id, instance, lease);
            Increment("register");
        }

        context.Response.StatusCode = 204;
    }

    private void Renew(HttpContext context, string app, string id)
    {
        lock (_gate)
        {
            EvictExpired();
            if (_apps.TryGetValue(app, out var instances) && instances.TryGetValue(id, out var entry))
            {
                entry.LastRenewal = Now;
                Increment("renew");
                context.Response.StatusCode = 200;
            }
            else
            {
                Increment("renew_404");
                context.Response.StatusCode = 404;
            }
        }
    }

    private void Cancel(HttpContext context, string app, string id)
    {
        lock (_gate)
        {
            EvictExpired();
            if (_apps.TryGetValue(app, out var instances) && instances.Remove(id))
            {
                Increment("delete");
                context.Response.StatusCode = 200;
            }
            else
            {
                Increment("delete_404");
                context.Response.StatusCode = 404;
            }
        }
    }

    private async Task GetAsync(HttpContext context, string? app)
    {
        var fault = _readFault;
        if (fault != ReadFault.None)
        {
            Increment("fetch_fault");
            await (fault switch
            {
                ReadFault.HtmlPage => WriteAsync(context, 200, "text/html", "<!DOCTYPE html><html><head><title>Login</title></head><body><form>Sign in</form></body></html>"),
                ReadFault.MalformedJson => WriteAsync(context, 200, "application/json", "{\"application\":{\"name\":\"APP\",\"instance\":[{\"instanceId\":\"x\""),
                ReadFault.NotEurekaJson => WriteAsync(context, 200, "application/json", "{\"status\":\"ok\",\"items\":[]}"),
                ReadFault.InternalServerError => WriteAsync(context, 500, "application/json", "{\"timestamp\":\"2024-01-01T00:00:00.000+00:00\",\"status\":500,\"error\":\"Internal Server Error\",\"path\":\"/eureka/apps\"}"),
                _ => WriteAsync(context, 418, "text/plain", "I'm a teapot"),
            });
            return;
        }

        List<(string Name, List<JsonObject> Instances)> apps;
        lock (_gate)
        {
            EvictExpired();
            Increment("fetch");
            apps = _apps
                .Where(a => (app is null || a.Key == app) && a.Value.Count > 0)
                .OrderBy(a => a.Key, StringComparer.Ordinal)
                .Select(a => (a.Key, a.Value.Values.OrderBy(e => e.Id, StringComparer.Ordinal).Select(Render).ToList()))
                .ToList();
        }

        if (app is not null && apps.Count == 0)
        {
            // Eureka's "application not found": a 404 without a body.
            context.Response.StatusCode = 404;
            return;
        }

        var wantsJson = context.Request.Headers.Accept.Any(a => a?.Contains("json", StringComparison.OrdinalIgnoreCase) == true);
        if (!wantsJson)
        {
            await WriteAsync(context, 200, "application/xml", app is null ? ToXml("applications", apps) : ToXml(null, apps));
            return;
        }

        JsonNode body;
        if (app is not null)
        {
            body = new JsonObject { ["application"] = ApplicationJson(apps[0]) };
        }
        else
        {
            var list = apps.Select(ApplicationJson).ToList();
            body = new JsonObject
            {
                ["applications"] = new JsonObject
                {
                    ["versions__delta"] = "1",
                    ["apps__hashcode"] = $"UP_{apps.Sum(a => a.Instances.Count)}_",
                    ["application"] = list.Count == 1 ? list[0] : new JsonArray([.. list]),
                },
            };
        }

        await WriteAsync(context, 200, "application/json", body.ToJsonString());
    }

    private static JsonObject ApplicationJson((string Name, List<JsonObject> Instances) app) => new()
    {
        ["name"] = app.Name,

        // The real server sends one instance as an object, several as an array.
        ["instance"] = app.Instances.Count == 1 ? app.Instances[0] : new JsonArray([.. app.Instances]),
    };

    private JsonObject Render(Entry entry)
    {
        var source = entry.Body;
        string Get(string name, string fallback) => source[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : fallback;
        var port = source["port"]?["$"]?.ToString() ?? "8080";
        var metadata = new JsonObject();
        if (source["metadata"] is JsonObject map && map.Count > 0 && !(map.Count == 1 && map.ContainsKey("@class")))
        {
            foreach (var (key, value) in map)
            {
                if (key != "@class")
                {
                    metadata[key] = value?.ToString();
                }
            }
        }
        else
        {
            metadata["@class"] = EmptyMapClass;
        }

        var registered = entry.Registered.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var host = Get("hostName", "localhost");
        return new JsonObject
        {
            ["instanceId"] = entry.Id,
            ["hostName"] = host,
            ["app"] = entry.App,
            ["ipAddr"] = Get("ipAddr", host),
            ["status"] = Get("status", "UP"),
            ["overriddenStatus"] = "UNKNOWN",
            ["port"] = new JsonObject { ["$"] = port, ["@enabled"] = "true" },
            ["securePort"] = new JsonObject { ["$"] = "443", ["@enabled"] = "false" },
            ["countryId"] = 1,
            ["dataCenterInfo"] = new JsonObject { ["@class"] = "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo", ["name"] = "MyOwn" },
            ["leaseInfo"] = new JsonObject
            {
                ["renewalIntervalInSecs"] = 30,
                ["durationInSecs"] = entry.Lease == TimeSpan.MaxValue ? 90 : (int)entry.Lease.TotalSeconds,
                ["registrationTimestamp"] = entry.Registered.ToUnixTimeMilliseconds(),
                ["lastRenewalTimestamp"] = entry.LastRenewal.ToUnixTimeMilliseconds(),
                ["evictionTimestamp"] = 0,
                ["serviceUpTimestamp"] = entry.Registered.ToUnixTimeMilliseconds(),
            },
            ["metadata"] = metadata,
            ["homePageUrl"] = $"http://{host}:{port}/",
            ["statusPageUrl"] = $"http://{host}:{port}/info",
            ["healthCheckUrl"] = $"http://{host}:{port}/health",
            ["vipAddress"] = Get("vipAddress", entry.App.ToLowerInvariant()),
            ["secureVipAddress"] = Get("secureVipAddress", entry.App.ToLowerInvariant()),
            ["isCoordinatingDiscoveryServer"] = "false",
            ["lastUpdatedTimestamp"] = registered,
            ["lastDirtyTimestamp"] = registered,
            ["actionType"] = "ADDED",
        };
    }

    private static string ToXml(string? root, List<(string Name, List<JsonObject> Instances)> apps)
    {
        var output = new StringBuilder();
        using (var xml = XmlWriter.Create(output, new XmlWriterSettings { OmitXmlDeclaration = false }))
        {
            if (root is not null)
            {
                xml.WriteStartElement(root);
                xml.WriteElementString("versions__delta", "1");
                xml.WriteElementString("apps__hashcode", $"UP_{apps.Sum(a => a.Instances.Count)}_");
            }

            foreach (var (name, instances) in apps)
            {
                xml.WriteStartElement("application");
                xml.WriteElementString("name", name);
                foreach (var instance in instances)
                {
                    xml.WriteStartElement("instance");
                    foreach (var field in new[] { "instanceId", "hostName", "app", "ipAddr", "status" })
                    {
                        xml.WriteElementString(field, instance[field]?.ToString());
                    }

                    xml.WriteStartElement("port");
                    xml.WriteAttributeString("enabled", "true");
                    xml.WriteString(instance["port"]?["$"]?.ToString());
                    xml.WriteEndElement();
                    xml.WriteStartElement("metadata");
                    if (instance["metadata"] is JsonObject metadata)
                    {
                        foreach (var (key, value) in metadata)
                        {
                            if (key != "@class")
                            {
                                xml.WriteElementString(key, value?.ToString());
                            }
                        }
                    }

                    xml.WriteEndElement();
                    xml.WriteEndElement();
                }

                xml.WriteEndElement();
            }

            if (root is not null)
            {
                xml.WriteEndElement();
            }
        }

        return output.ToString();
    }

    private async Task TokenAsync(HttpContext context)
    {
        var request = context.Request;
        if (!HttpMethods.IsPost(request.Method))
        {
            context.Response.StatusCode = 405;
            return;
        }

        var expected = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_options.ClientId}:{_options.ClientSecret}"));
        if (!string.Equals(request.Headers.Authorization.ToString(), expected, StringComparison.Ordinal))
        {
            Increment("token_refused");
            await WriteAsync(context, 401, "application/json", "{\"error\":\"unauthorized\",\"error_description\":\"Bad credentials\"}");
            return;
        }

        var form = request.HasFormContentType ? await request.ReadFormAsync() : null;
        if (form is null || form["grant_type"] != "client_credentials")
        {
            await WriteAsync(context, 400, "application/json", "{\"error\":\"unsupported_grant_type\"}");
            return;
        }

        var token = Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();
        lock (_gate)
        {
            _tokens[token] = Now + _options.TokenLifetime;
            _issuedTokens.Add(token);
            Increment("token");
        }

        var advertised = (int)Math.Ceiling((_options.AdvertisedTokenLifetime ?? _options.TokenLifetime).TotalSeconds);
        var body = new JsonObject
        {
            ["access_token"] = token,
            ["token_type"] = "bearer",
            ["expires_in"] = advertised,
            ["scope"] = "p-service-registry.write p-service-registry.read",
            ["jti"] = Guid.NewGuid().ToString("N"),
        };
        await WriteAsync(context, 200, "application/json", body.ToJsonString());
    }

    private bool HasValidToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return false;
        }

        lock (_gate)
        {
            return _tokens.TryGetValue(header["Bearer ".Length..], out var expiry) && Now < expiry;
        }
    }

    private static async Task WriteAsync(HttpContext context, int status, string contentType, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        await context.Response.WriteAsync(body);
    }

    private DateTimeOffset Now => _options.TimeProvider.GetUtcNow();

    // Callers hold _gate.
    private void Store(string app, string id, JsonObject body, TimeSpan lease)
    {
        if (!_apps.TryGetValue(app, out var instances))
        {
            instances = new Dictionary<string, Entry>(StringComparer.Ordinal);
            _apps[app] = instances;
        }

        var now = Now;
        var registrations = instances.TryGetValue(id, out var previous) ? previous.Registrations + 1 : 1;
        instances[id] = new Entry(app, id, body, lease, now) { LastRenewal = now, Registrations = registrations };
    }

    // Callers hold _gate.
    private void EvictExpired()
    {
        var now = Now;
        foreach (var instances in _apps.Values)
        {
            foreach (var (id, entry) in instances.ToArray())
            {
                if (entry.Lease != TimeSpan.MaxValue && now > entry.LastRenewal + entry.Lease)
                {
                    instances.Remove(id);
                    _counters["evicted"] = _counters.GetValueOrDefault("evicted") + 1;
                }
            }
        }
    }

    private void Increment(string what)
    {
        lock (_gate)
        {
            _counters[what] = _counters.GetValueOrDefault(what) + 1;
        }
    }

    private sealed class Entry(string app, string id, JsonObject body, TimeSpan lease, DateTimeOffset registered)
    {
        public string App { get; } = app;

        public string Id { get; } = id;

        public JsonObject Body { get; } = body;

        public TimeSpan Lease { get; } = lease;

        public DateTimeOffset Registered { get; } = registered;

        public DateTimeOffset LastRenewal { get; set; }

        public int Registrations { get; set; }

        public RegisteredInstance ToRegistered() =>
            new(App, Id, Body["status"]?.ToString() ?? "UP", (JsonObject)Body.DeepClone(), Registrations);
    }
}
