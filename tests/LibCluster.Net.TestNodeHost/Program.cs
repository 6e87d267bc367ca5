// A LibCluster.Net node in its own process for the integration tests. Configured entirely by environment
// variables (LibCluster__Node__Name, LibCluster__Node__Cookie, LibCluster__Topologies__...), it answers
// requests on the "echo" and "whoami" mailboxes and reports on stdout, one event per line:
//   LISTENING <port> | UP <node> <creation> | DOWN <node> <reason>
// It stops gracefully when its standard input closes.
using System.Text;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

var builder = Host.CreateApplicationBuilder(args);
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true).AddFilter("Microsoft", LogLevel.Warning);
builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"));

using var host = builder.Build();
var cluster = host.Services.GetRequiredService<ICluster>();
using var echo = cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));
using var whoami = cluster.Register("whoami", (message, ct) => message.ReplyAsync(Encoding.UTF8.GetBytes($"{cluster.Self} {cluster.Creation}"), ct));

await host.StartAsync();
var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
var stdout = Console.Out;
lock (stdout)
{
    stdout.WriteLine($"LISTENING {host.Services.GetRequiredService<LibCluster.Mesh.ConnectionManager>().ListenEndPoint!.Port}");
    stdout.Flush();
}

var watching = Task.Run(async () =>
{
    await foreach (var change in cluster.WatchAsync(lifetime.ApplicationStopping))
    {
        var line = change.Kind == MembershipChangeKind.NodeUp
            ? $"UP {change.Node} {change.Creation}"
            : $"DOWN {change.Node} {change.Reason}";
        lock (stdout)
        {
            stdout.WriteLine(line);
            stdout.Flush();
        }
    }
});

// Stop when the test closes our stdin (or kills us).
_ = Task.Run(async () =>
{
    var input = Console.OpenStandardInput();
    var buffer = new byte[64];
    while (await input.ReadAsync(buffer) > 0)
    {
    }

    lifetime.StopApplication();
});

await host.WaitForShutdownAsync();
try
{
    await watching;
}
catch (OperationCanceledException)
{
}
