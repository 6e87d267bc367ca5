using System.Globalization;
using LibCluster.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>
/// A real node as an application runs it: a generic host with <c>AddLibCluster</c> reading an in-memory
/// <c>LibCluster</c> section, listening on 127.0.0.1. Logs go to stderr (stdout carries the protocol and result lines).
/// </summary>
internal static class BenchHost
{
    /// <summary>The cluster cookie of every benchmark node (loopback only; not a secret).</summary>
    public const string Cookie = "libcluster-net-benchmark-cookie-0123456789";

    private static readonly Lazy<ILoggerFactory> s_loggers = new(CreateLoggers);

    /// <summary>Warning by default; <c>LIBCLUSTER_BENCH_LOG=Information</c> (or Debug...) for more.</summary>
    private static ILoggerFactory CreateLoggers()
    {
        var level = Enum.TryParse<LogLevel>(Environment.GetEnvironmentVariable("LIBCLUSTER_BENCH_LOG"), ignoreCase: true, out var parsed) ? parsed : LogLevel.Warning;
        return LoggerFactory.Create(logging =>
        {
            logging.SetMinimumLevel(level);
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
            logging.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        });
    }

    /// <param name="name">The node name, <c>basename@127.0.0.1</c>.</param>
    /// <param name="port">The listen port; 0 lets the OS choose.</param>
    /// <param name="tickTime">The tick time, or null for the library's default.</param>
    /// <param name="staticNodes">Entries of a Static topology (<c>name@host:port</c>), or null for none.</param>
    public static IHost Build(string name, int port, TimeSpan? tickTime = null, IReadOnlyList<string>? staticNodes = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = name,
            ["LibCluster:Node:Cookie"] = Cookie,
            ["LibCluster:Node:ListenAddress"] = "127.0.0.1",
            ["LibCluster:Node:Port"] = port.ToString(CultureInfo.InvariantCulture),
        };
        if (tickTime is { } tick)
        {
            settings["LibCluster:Node:TickTime"] = tick.ToString("c", CultureInfo.InvariantCulture);
        }

        if (staticNodes is not null)
        {
            settings["LibCluster:Topologies:bench:Strategy"] = "Static";
            for (var i = 0; i < staticNodes.Count; i++)
            {
                settings[$"LibCluster:Topologies:bench:Config:Nodes:{i}"] = staticNodes[i];
            }
        }

        builder.Configuration.AddInMemoryCollection(settings);

        // One logger factory per process (a hundred hosts in one process would otherwise run a hundred console
        // writers); the container does not own it, so disposing a host leaves it to the others.
        builder.Services.AddSingleton(s_loggers.Value);
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"));
        return builder.Build();
    }

    /// <summary>The same host as <see cref="Build"/> without LibCluster: the baseline of the memory measure.</summary>
    public static IHost BuildBare()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddSingleton(s_loggers.Value);
        builder.Services.AddSingleton<IHostLifetime, ManualLifetime>();
        return builder.Build();
    }

    public static ICluster Cluster(this IHost host) => host.Services.GetRequiredService<ICluster>();

    /// <summary>The port the node listens on (the real one when 0 was asked for).</summary>
    public static int ListenPort(this IHost host) =>
        host.Services.GetRequiredService<LibCluster.Mesh.ConnectionManager>().ListenEndPoint?.Port
        ?? throw new InvalidOperationException("The node is not started.");

    /// <summary>Stops and disposes a host within <paramref name="timeout"/>, whatever happens.</summary>
    public static async Task StopQuietlyAsync(this IHost host, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await host.StopAsync(cts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or AggregateException or ObjectDisposedException)
        {
            await Console.Error.WriteLineAsync($"bench: a node did not stop cleanly: {ex.Message}").ConfigureAwait(false);
        }

        if (host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            host.Dispose();
        }
    }

    /// <summary>The harness decides when a node stops: no Ctrl+C or SIGTERM handling per host.</summary>
    private sealed class ManualLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
