// my_clustered_app: every instance finds the others (Gossip in Development, Eureka on Cloud Foundry),
// answers GET / with its node name and the nodes it is connected to, and shows messaging between nodes.
using System.Diagnostics;
using System.Text;
using LibCluster;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using MyClusteredApp;

var builder = WebApplication.CreateSlimBuilder(args);

// Cloud Foundry tells the app where to listen through PORT (its .NET buildpack also sets ASPNETCORE_URLS from it).
// An explicit ASPNETCORE_URLS wins, so that a local run can keep to 127.0.0.1.
if (Environment.GetEnvironmentVariable("PORT") is { Length: > 0 } port
    && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("ASPNETCORE_URLS")))
{
    builder.WebHost.UseUrls($"http://0.0.0.0:{port}");
}

builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster")).AddEureka();
builder.Services.AddHealthChecks().AddLibClusterHealthCheck(builder.Configuration.GetValue("LibCluster:MinNodes", 0));
builder.Services.AddSingleton<MessageLog>();
builder.Services.AddHostedService<Mailboxes>();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, AppJson.Default));

var app = builder.Build();

app.MapGet("/", (ICluster cluster) => new ClusterView(
    cluster.Self.Value,
    [.. cluster.ConnectedNodes.Select(n => n.Value).Order(StringComparer.Ordinal)]));

app.MapGet("/ping/{node}", async (string node, ICluster cluster, CancellationToken ct) =>
{
    if (!NodeName.TryParse(node, out var name, out var error))
    {
        return Results.Json(new ErrorBody(error), AppJson.Default.ErrorBody, statusCode: StatusCodes.Status404NotFound);
    }

    if (name != cluster.Self && !cluster.ConnectedNodes.Contains(name))
    {
        return Results.Json(new ErrorBody($"{name} is not connected to {cluster.Self}."), AppJson.Default.ErrorBody, statusCode: StatusCodes.Status404NotFound);
    }

    var started = Stopwatch.GetTimestamp();
    try
    {
        var reply = await cluster.RequestAsync(name, Mailboxes.Ping, "ping"u8.ToArray(), TimeSpan.FromSeconds(5), ct);
        return Results.Json(
            new PingResult(cluster.Self.Value, name.Value, Stopwatch.GetElapsedTime(started).TotalMilliseconds, Encoding.UTF8.GetString(reply.Payload.Span)),
            AppJson.Default.PingResult);
    }
    catch (Exception ex) when (ex is ClusterException or TimeoutException)
    {
        return Results.Json(new ErrorBody(ex.Message), AppJson.Default.ErrorBody, statusCode: StatusCodes.Status503ServiceUnavailable);
    }
});

app.MapPost("/broadcast", async (HttpRequest request, ICluster cluster, CancellationToken ct) =>
{
    using var reader = new StreamReader(request.Body, Encoding.UTF8);
    var text = await reader.ReadToEndAsync(ct);
    if (text.Length is 0 or > 4096)
    {
        return Results.Json(new ErrorBody("Send the message as the request body (1 to 4096 characters)."), AppJson.Default.ErrorBody, statusCode: StatusCodes.Status400BadRequest);
    }

    await cluster.BroadcastAsync(Mailboxes.Messages, Encoding.UTF8.GetBytes(text), ct);
    return Results.Json(new BroadcastResult(cluster.Self.Value, cluster.ConnectedNodes.Count + 1), AppJson.Default.BroadcastResult, statusCode: StatusCodes.Status202Accepted);
});

app.MapGet("/messages", (MessageLog log) => log.Snapshot());

app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });

try
{
    await app.RunAsync();
    return 0;
}
catch (OptionsValidationException ex)
{
    // A configuration error (no cookie in Production, a bad topology): the host has logged it; say it once more, plainly,
    // and exit non-zero so that the platform reports a failed start instead of a crash.
    await Console.Error.WriteLineAsync($"MyClusteredApp cannot start: {string.Join(" ", ex.Failures)}");
    return 1;
}
