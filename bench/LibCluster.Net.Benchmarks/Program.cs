// The benchmark harness of docs/performance.md. Each measure prints one machine-readable result line, last, on
// stdout; everything else (profile lines, extras, logs, failures) goes to stderr. The other nodes of a measure run
// as this same program started again in a hidden role; each measure is bounded by --timeout, and every process it
// started is ended by pid when it finishes, fails or times out.
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime;
using LibCluster;
using LibCluster.Benchmarks.Infrastructure;
using LibCluster.Benchmarks.Measures;
using LibCluster.Messaging;

const string Usage = """
    usage: LibCluster.Net.Benchmarks <measure> [options]
      pingpong     [--roundtrips 20000] [--messages 1000000] [--payload 64] [--alloc-types]
                   two nodes in two processes: echo round trips, then a one-way stream to a sink
                   -> libcluster_net roundtrip_us=<mean> roundtrips_per_s=<n> stream_msgs_per_s=<n>
      convergence  [--nodes 20] [--alloc-types]
                   N hosts in this process, Static topology listing all, time to a full mesh
                   -> convergence nodes=N full_mesh_ms=<ms>
      failover     [--nodes 5] [--tick-time 15000]
                   N node processes; a node killed, one frozen (SIGSTOP), one stopped gracefully
                   -> failover nodes=N tick_time_ms=<t> kill_detect_ms_max=<ms> freeze_detect_ms_max=<ms> graceful_detect_ms_max=<ms>
      memory       [--peers 20] [--settle-ms 2000]
                   working set of one idle node process, alone and with P connected peers
                   -> memory rss_mb_idle=<n> rss_kb_per_peer=<n>
    every measure: --timeout <seconds> (default 120; failover 120 + 3 x tick time), --quick (tiny sizes), --verbose (echo the child processes' logs)
    environment: LIBCLUSTER_BENCH_LOG=Information|Debug for the nodes' logs (default Warning, on stderr)
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Error.WriteLine(Usage);
    return args.Length == 0 ? 64 : 0;
}

var measure = args[0];
try
{
    var options = new BenchArgs(args.Skip(1));
    switch (measure)
    {
        // Hidden roles: the other nodes of a measure. They stop when their stdin closes.
        case "peer":
            return await PingPong.RunPeerAsync(options);
        case "node":
            return await Failover.RunNodeAsync(options);
        case "memnode":
            return await Memory.RunNodeAsync(options);
        case "mempeers":
            return await Memory.RunPeersAsync(options);
        case "pingpong" or "convergence" or "failover" or "memory":
            break;
        default:
            throw new BenchUsageException($"unknown measure '{measure}'");
    }

    var quick = options.Flag("quick");
    var tickForTimeout = measure == "failover" ? options.Int("tick-time", quick ? 1000 : 15000, min: 100) : 0;
    var timeout = TimeSpan.FromSeconds(options.Int("timeout", 120 + 3 * tickForTimeout / 1000, min: 1));
    using var watchdog = new Timer(
        _ =>
        {
            Console.Error.WriteLine($"bench: {measure} did not finish within {timeout.TotalSeconds:0} s (--timeout); stopping");
            ChildProcess.KillAll();
            Environment.Exit(2);
        },
        null,
        timeout,
        Timeout.InfiniteTimeSpan);
    AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.KillAll();
    Console.CancelKeyPress += (_, _) => ChildProcess.KillAll();

    DescribeRun(measure);
    return measure switch
    {
        "pingpong" => await PingPong.RunAsync(options),
        "convergence" => await Convergence.RunAsync(options, timeout),
        "failover" => Failover.Run(options),
        _ => Memory.Run(options),
    };
}
catch (BenchUsageException ex)
{
    Console.Error.WriteLine($"bench: {ex.Message}");
    Console.Error.WriteLine(Usage);
    return 64;
}
catch (BenchFailedException ex)
{
    Console.Error.WriteLine($"bench: {measure} FAILED: {ex.Message}");
    ChildProcess.KillAll();
    return 1;
}
catch (Exception ex) when (ex is ClusterException or IOException or TimeoutException or InvalidOperationException or OperationCanceledException)
{
    Console.Error.WriteLine($"bench: {measure} FAILED: {ex}");
    ChildProcess.KillAll();
    return 1;
}

// What the figures depend on, on stderr: the runtime, the GC, the socket settings and the library's build.
static void DescribeRun(string measure)
{
    var library = typeof(ICluster).Assembly;
    var debuggable = library.GetCustomAttribute<DebuggableAttribute>();
    var libraryBuild = debuggable?.IsJITOptimizerDisabled == true ? "Debug" : "Release";
    var env = string.Join(
        ' ',
        Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k.StartsWith("DOTNET_", StringComparison.Ordinal) && !k.StartsWith("DOTNET_CLI", StringComparison.Ordinal) && k != "DOTNET_NOLOGO" && k != "DOTNET_ROOT")
            .Order(StringComparer.Ordinal)
            .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}"));
    Console.Error.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"bench: {measure} runtime={Environment.Version} cores={Environment.ProcessorCount} gc={(GCSettings.IsServerGC ? "server" : "workstation")}{(GCSettings.LatencyMode == GCLatencyMode.Batch ? "-nonconcurrent" : "-concurrent")} library_build={libraryBuild} {env}"));
    if (libraryBuild == "Debug")
    {
        Console.Error.WriteLine("bench: WARNING: LibCluster.Net was built without optimisation (Debug): the figures are not representative; run with -c Release.");
    }
}
