using System.Diagnostics;
using System.Globalization;

namespace LocalCluster;

/// <summary>One instance of MyClusteredApp: its node name, its ports, and its OS process once started.</summary>
internal sealed class Instance(int index, int httpPort, int distPort) : IDisposable
{
    private Process? _process;

    /// <summary>The short label its output lines are prefixed with: <c>app0</c>.</summary>
    public string Label { get; } = $"app{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>The node name, as the manifest builds it on Cloud Foundry: <c>app{index}@{ip}</c>.</summary>
    public string NodeName => $"{Label}@127.0.0.1";

    public int HttpPort { get; } = httpPort;

    public int DistPort { get; } = distPort;

    public Uri Url => new($"http://127.0.0.1:{HttpPort.ToString(CultureInfo.InvariantCulture)}/");

    public Process Process => _process ?? throw new InvalidOperationException($"{NodeName} has not been started.");

    public bool HasExited => _process is { HasExited: true };

    /// <summary>
    /// Starts <c>dotnet MyClusteredApp.dll</c> in the app's folder (its content root, where appsettings*.json are) with
    /// the environment that makes it this node. Its output is relayed line by line, prefixed with <see cref="Label"/>.
    /// </summary>
    public void Start(string dotnet, string appPath, int gossipPort)
    {
        var info = new ProcessStartInfo(dotnet)
        {
            WorkingDirectory = Path.GetDirectoryName(appPath)!,
            UseShellExecute = false,

            // Only the launcher reads the terminal; the instances get SIGTERM (and, from a terminal, Ctrl+C's SIGINT).
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(appPath);

        var environment = info.Environment;
        environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        environment["ASPNETCORE_URLS"] = Url.ToString().TrimEnd('/');
        environment.Remove("PORT");
        environment["LibCluster__Node__Name"] = NodeName;
        environment["LibCluster__Node__Port"] = DistPort.ToString(CultureInfo.InvariantCulture);
        environment["LibCluster__Node__ListenAddress"] = "127.0.0.1";

        // appsettings.Development.json gossips on 127.0.0.1; this launch's own UDP port keeps it apart from any other
        // cluster on this machine (another launch, a test run) that uses the same development cookie.
        environment["LibCluster__Topologies__gossip__Config__Port"] = gossipPort.ToString(CultureInfo.InvariantCulture);

        // One line per log event, and none of the "Now listening on / Press Ctrl+C" banner: the launcher says it once.
        environment["Logging__Console__FormatterName"] = "simple";
        environment["Logging__Console__FormatterOptions__SingleLine"] = "true";
        environment["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss ";
        environment["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Warning";

        var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => Relay(e.Data);
        process.ErrorDataReceived += (_, e) => Relay(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    /// <summary>Kills the process (and anything it started) if it is still running.</summary>
    public void KillIfRunning()
    {
        try
        {
            if (_process is { HasExited: false })
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    public void Dispose() => _process?.Dispose();

    private void Relay(string? line)
    {
        if (line is not null)
        {
            Console.WriteLine($"[{Label}] {line}");
        }
    }
}
