using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A node in its own OS process (tests/LibCluster.Net.TestNodeHost), configured through environment variables.
/// Its stdout lines (LISTENING, UP, DOWN) are collected so tests can wait for them.
/// </summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<string> _errors = [];
    private readonly SemaphoreSlim _changed = new(0);

    private NodeProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        process.OutputDataReceived += (_, e) => Add(_lines, e.Data);
        process.ErrorDataReceived += (_, e) => Add(_errors, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string[] Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Log
    {
        get
        {
            lock (_errors)
            {
                return string.Join('\n', _errors.TakeLast(40));
            }
        }
    }

    private void Add(List<string> list, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (list)
        {
            list.Add(line);
        }

        _changed.Release();
    }

    /// <summary>A port for a node that must be known before it starts; see <see cref="TestPorts"/>.</summary>
    public static int FreePort() => TestPorts.Take();

    public static string HostDll()
    {
        // tests/LibCluster.Net.IntegrationTests/bin/<Configuration>/net10.0/ -> tests/LibCluster.Net.TestNodeHost/bin/<Configuration>/net10.0/
        var dir = AppContext.BaseDirectory.Replace("LibCluster.Net.IntegrationTests", "LibCluster.Net.TestNodeHost", StringComparison.Ordinal);
        var dll = Path.Combine(dir, "LibCluster.Net.TestNodeHost.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("The test node host is not built; build the solution first.", dll);
    }

    /// <param name="name">The node's name.</param>
    /// <param name="settings">Environment variables (<c>LibCluster__...</c>); they override the defaults set here.</param>
    /// <param name="commandPrefix">
    /// A command that runs <c>dotnet</c> for the node, for example <c>ip netns exec NAME</c> to start it inside a
    /// network namespace; it must exec <c>dotnet</c>, so that the process is the node itself. Null: <c>dotnet</c> directly.
    /// </param>
    public static NodeProcess Start(string name, IReadOnlyDictionary<string, string> settings, IReadOnlyList<string>? commandPrefix = null)
    {
        var prefixed = commandPrefix is { Count: > 0 };
        var info = new ProcessStartInfo(prefixed ? commandPrefix![0] : "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (prefixed)
        {
            foreach (var argument in commandPrefix!.Skip(1))
            {
                info.ArgumentList.Add(argument);
            }

            info.ArgumentList.Add("dotnet");
        }

        info.ArgumentList.Add(HostDll());
        info.Environment["DOTNET_ENVIRONMENT"] = "Production";
        info.Environment["LibCluster__Node__Name"] = name;
        info.Environment["LibCluster__Node__ListenAddress"] = "127.0.0.1";
        foreach (var (key, value) in settings)
        {
            info.Environment[key] = value;
        }

        return new NodeProcess(Process.Start(info)!, name);
    }

    /// <summary>Waits until a stdout line satisfies <paramref name="predicate"/>, failing with the node's log after <paramref name="timeout"/>.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, string because, int skip = 0)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var match = Lines.Skip(skip).FirstOrDefault(predicate);
            if (match is not null)
            {
                return match;
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || HasExited && !await _changed.WaitAsync(100))
            {
                throw new TimeoutException($"{Name}: timed out waiting until {because}. Output:\n{string.Join('\n', Lines)}\nLog:\n{Log}");
            }

            await _changed.WaitAsync(left);
        }
    }

    /// <summary>The nodes this process reports as connected, from its UP/DOWN lines.</summary>
    public HashSet<string> ConnectedNodes()
    {
        var connected = new HashSet<string>();
        foreach (var line in Lines)
        {
            var parts = line.Split(' ');
            if (parts[0] == "UP")
            {
                connected.Add(parts[1]);
            }
            else if (parts[0] == "DOWN")
            {
                connected.Remove(parts[1]);
            }
        }

        return connected;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>Closes stdin, which the node takes as the signal to stop gracefully, and waits for it to exit.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await StopAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or IOException)
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
        }

        _process.Dispose();
    }
}
