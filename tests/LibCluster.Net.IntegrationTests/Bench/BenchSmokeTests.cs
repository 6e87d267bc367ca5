using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LibCluster.IntegrationTests.Bench;

/// <summary>
/// The benchmark harness (bench/LibCluster.Net.Benchmarks) is run as the user runs it, as a process, with tiny sizes:
/// each measure must finish, exit 0 and print its result line last, with sane numbers. The figures themselves are
/// not checked (a test machine is not a benchmark machine); this only keeps the harness from rotting.
/// </summary>
[Collection(BenchHarness.Name)]
public sealed class BenchSmokeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task PingPong_TinyRun_PrintsRoundTripAndVerifiedStreamFigures()
    {
        var run = await BenchRun.StartAsync(["pingpong", "--roundtrips", "200", "--messages", "5000", "--timeout", "60"], Timeout);

        var result = run.Result("libcluster_net");
        result["roundtrip_us"].Should().BePositive(run.Describe());
        result["roundtrips_per_s"].Should().BePositive(run.Describe());
        result["stream_msgs_per_s"].Should().BePositive(run.Describe());
        result["roundtrips_per_s"].Should().BeApproximately(1e6 / result["roundtrip_us"], result["roundtrips_per_s"] * 0.01, run.Describe());
        run.Stderr.Should().Contain("pingpong_profile phase=stream side=peer", "the profile lines go to stderr");
    }

    [Fact]
    public async Task Convergence_FiveNodes_FormsFullMesh()
    {
        var run = await BenchRun.StartAsync(["convergence", "--nodes", "5", "--timeout", "60"], Timeout);

        var result = run.Result("convergence");
        result["nodes"].Should().Be(5, run.Describe());
        result["full_mesh_ms"].Should().BePositive(run.Describe()).And.BeLessThan(60_000, run.Describe());
    }

    [Fact]
    public async Task Failover_ThreeNodes_DetectsKillFreezeAndGracefulStop()
    {
        var run = await BenchRun.StartAsync(["failover", "--nodes", "3", "--tick-time", "1000", "--timeout", "80"], Timeout);

        var result = run.Result("failover");
        result["nodes"].Should().Be(3, run.Describe());
        result["tick_time_ms"].Should().Be(1000, run.Describe());
        result["kill_detect_ms_max"].Should().BePositive(run.Describe());
        result["graceful_detect_ms_max"].Should().BePositive(run.Describe());

        // A frozen node keeps its sockets open: only the tick timeout can find it, so never much before TickTime.
        result["freeze_detect_ms_max"].Should().BeGreaterThan(500, run.Describe());
        run.Stderr.Should().Contain("phase=freeze").And.Contain("reasons=tick_timeout", run.Describe());
    }

    [Fact]
    public async Task Memory_TwoPeers_ReportsWorkingSet()
    {
        var run = await BenchRun.StartAsync(["memory", "--peers", "2", "--settle-ms", "200", "--timeout", "60"], Timeout);

        var result = run.Result("memory");
        result["rss_mb_idle"].Should().BeInRange(1, 4096, run.Describe());

        // A difference of two resident-set readings: normally positive, but page reclaim can make it a little negative.
        result["rss_kb_per_peer"].Should().BeInRange(-10_000, 100_000, run.Describe());
    }
}

/// <summary>The harness's runs take the CPU and many loopback ports: they run alone, after the parallel collections.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class BenchHarness
{
    public const string Name = "Benchmark harness";
}

/// <summary>One finished run of the harness's built dll: exit code, stdout, stderr, and its result line parsed.</summary>
internal sealed class BenchRun
{
    private BenchRun(string[] args, int exitCode, string stdout, string stderr)
    {
        Args = args;
        ExitCode = exitCode;
        Stdout = stdout;
        Stderr = stderr;
    }

    public string[] Args { get; }

    public int ExitCode { get; }

    public string Stdout { get; }

    public string Stderr { get; }

    /// <summary>
    /// The harness next to this test assembly: tests/LibCluster.Net.IntegrationTests/bin/{Configuration}/net10.0/ -&gt;
    /// bench/LibCluster.Net.Benchmarks/bin/{Configuration}/net10.0/ (the other configuration if this one is not built).
    /// </summary>
    public static string Dll()
    {
        var test = Path.Combine("tests", "LibCluster.Net.IntegrationTests");
        var bench = Path.Combine("bench", "LibCluster.Net.Benchmarks");
        var dir = AppContext.BaseDirectory.Replace(test, bench, StringComparison.Ordinal);
        var candidates = new[] { dir, Swap(dir, "Debug", "Release"), Swap(dir, "Release", "Debug") };
        return candidates.Select(d => Path.Combine(d, "LibCluster.Net.Benchmarks.dll")).FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException("The benchmark harness is not built; build the solution first.", Path.Combine(dir, "LibCluster.Net.Benchmarks.dll"));
    }

    private static string Swap(string dir, string from, string to) =>
        dir.Replace($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}{from}{Path.DirectorySeparatorChar}", $"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}{to}{Path.DirectorySeparatorChar}", StringComparison.Ordinal);

    /// <summary>Runs the harness to the end; kills it (and so, through its closed stdin, its children) after <paramref name="timeout"/>.</summary>
    public static async Task<BenchRun> StartAsync(string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Dll());
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            throw new TimeoutException($"bench {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s.\nstdout:\n{await stdout}\nstderr:\n{Tail(await stderr)}");
        }

        return new BenchRun(args, process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The last stdout line, which must start with <paramref name="label"/>, as its key=value numbers.</summary>
    public Dictionary<string, double> Result(string label)
    {
        ExitCode.Should().Be(0, Describe());
        var last = Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        last.Should().NotBeNull(Describe()).And.StartWith(label + " ", Describe());
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var pair in last!.Split(' ').Skip(1))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            eq.Should().BePositive($"'{pair}' should be key=value; {Describe()}");
            double.TryParse(pair[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value).Should().BeTrue($"'{pair}' should have a number; {Describe()}");
            double.IsFinite(value).Should().BeTrue(Describe());
            values[pair[..eq]] = value;
        }

        return values;
    }

    public string Describe()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"bench {string.Join(' ', Args)} exited {ExitCode}\nstdout:\n{Stdout}\nstderr (tail):\n{Tail(Stderr)}");
        return text.ToString();
    }

    private static string Tail(string text) => string.Join('\n', text.Split('\n').TakeLast(40));
}
