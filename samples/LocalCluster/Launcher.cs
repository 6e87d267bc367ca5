using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;

namespace LocalCluster;

/// <summary>Starts the instances, waits until they have all connected, prints their views, and stops them all on request.</summary>
internal static class Launcher
{
    // Generous for a cold start on a slow machine: each instance JIT-compiles ASP.NET Core before it can gossip.
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(90);

    // Each instance needs well under a second to say GOODBYE and stop; past this the launcher kills what is left.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(int instanceCount)
    {
        var appPath = MyClusteredAppPath();
        if (appPath is null || !File.Exists(appPath))
        {
            await Console.Error.WriteLineAsync($"MyClusteredApp.dll was not found ({appPath ?? "no path recorded"}): run this with dotnet run --project samples/LocalCluster, which builds it first.");
            return 2;
        }

        var stop = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var signals = ListenForStop(stop);

        var ports = FreePorts(instanceCount * 2 + 1);
        var gossipPort = ports[^1];
        var instances = Enumerable.Range(0, instanceCount).Select(i => new Instance(i, ports[i], ports[instanceCount + i])).ToArray();
        var dotnet = DotnetHost();
        Console.WriteLine($"Starting {instanceCount} instances of MyClusteredApp (Development: Gossip on 127.0.0.1, UDP port {gossipPort.ToString(CultureInfo.InvariantCulture)}):");
        try
        {
            foreach (var instance in instances)
            {
                instance.Start(dotnet, appPath, gossipPort);
                Console.WriteLine($"  {instance.NodeName}  {instance.Url}  dist port {instance.DistPort.ToString(CultureInfo.InvariantCulture)}  pid {instance.Process.Id.ToString(CultureInfo.InvariantCulture)}");
            }

            var anyExited = Task.WhenAny(instances.Select(i => i.Process.WaitForExitAsync()));
            var views = await WaitUntilConnectedAsync(instances, stop.Task, anyExited);
            if (views is not null)
            {
                PrintViews(instances, views);
            }

            if (!stop.Task.IsCompleted && !anyExited.IsCompleted && views is not null)
            {
                await Task.WhenAny(stop.Task, anyExited);
            }

            var requested = stop.Task.IsCompleted;
            var reason = requested ? await stop.Task
                : anyExited.IsCompleted ? "an instance stopped on its own"
                : "they did not all connect";

            // A stop that was asked for and went cleanly is a success, even before the instances had all connected.
            var clean = await StopAllAsync(instances, reason);
            return requested && clean ? 0 : 1;
        }
        finally
        {
            // Whatever happened above, no instance outlives the launcher.
            foreach (var instance in instances)
            {
                instance.KillIfRunning();
                instance.Dispose();
            }
        }
    }

    /// <summary>Polls every instance's GET / until each one is connected to exactly the others; null if that does not happen.</summary>
    private static async Task<string[]?> WaitUntilConnectedAsync(Instance[] instances, Task stop, Task anyExited)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            var views = await Task.WhenAll(instances.Select(i => TryGetViewAsync(http, i)));
            if (views.Select((view, i) => IsComplete(view, instances, i)).All(ok => ok))
            {
                return views!;
            }

            if (stop.IsCompleted || anyExited.IsCompleted)
            {
                return null;
            }

            if (Stopwatch.GetElapsedTime(started) > ConnectTimeout)
            {
                Console.WriteLine($"After {ConnectTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s the instances are still not all connected:");
                for (var i = 0; i < instances.Length; i++)
                {
                    Console.WriteLine($"  GET {instances[i].Url} -> {views[i] ?? "(no answer)"}");
                }

                return null;
            }

            await Task.WhenAny(Task.Delay(PollInterval), stop, anyExited);
        }
    }

    private static async Task<string?> TryGetViewAsync(HttpClient http, Instance instance)
    {
        try
        {
            return await http.GetStringAsync(instance.Url);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            // Not listening yet.
            return null;
        }
    }

    /// <summary>True when <paramref name="view"/> is instance <paramref name="index"/>'s and lists exactly the other instances.</summary>
    private static bool IsComplete(string? view, Instance[] instances, int index)
    {
        if (view is null)
        {
            return false;
        }

        try
        {
            using var json = JsonDocument.Parse(view);
            var current = json.RootElement.GetProperty("current_node").GetString();
            var connected = json.RootElement.GetProperty("connected_nodes").EnumerateArray().Select(n => n.GetString()).ToHashSet(StringComparer.Ordinal);
            var others = instances.Where((_, i) => i != index).Select(i => (string?)i.NodeName);
            return current == instances[index].NodeName && connected.SetEquals(others);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }

    private static void PrintViews(Instance[] instances, string[] views)
    {
        Console.WriteLine();
        Console.WriteLine($"All {instances.Length.ToString(CultureInfo.InvariantCulture)} instances are connected to each other. GET / on each:");
        for (var i = 0; i < instances.Length; i++)
        {
            Console.WriteLine($"  GET {instances[i].Url} -> {views[i]}");
        }

        var first = instances[0];
        var second = instances[1 % instances.Length];
        Console.WriteLine();
        Console.WriteLine("Try:");
        Console.WriteLine($"  curl {first.Url}ping/{second.NodeName}");
        Console.WriteLine($"  curl -X POST --data 'hello from {first.Label}' {first.Url}broadcast");
        Console.WriteLine($"  curl {second.Url}messages");
        Console.WriteLine();
        Console.WriteLine("Ctrl+C (or Enter) stops every instance.");
    }

    /// <summary>Sends every running instance SIGTERM, waits for them with a deadline, kills the rest; true when all exited 0.</summary>
    private static async Task<bool> StopAllAsync(Instance[] instances, string reason)
    {
        Console.WriteLine($"Stopping {instances.Length.ToString(CultureInfo.InvariantCulture)} instances ({reason})...");
        foreach (var instance in instances.Where(i => !i.HasExited))
        {
            Signals.Terminate(instance.Process);
        }

        using var deadline = new CancellationTokenSource(StopTimeout);
        var clean = true;
        foreach (var instance in instances)
        {
            var process = instance.Process;
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Console.WriteLine($"{instance.NodeName} (pid {process.Id.ToString(CultureInfo.InvariantCulture)}) did not stop within {StopTimeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s; killing it.");
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None);
                clean = false;
                continue;
            }

            Console.WriteLine($"{instance.NodeName} (pid {process.Id.ToString(CultureInfo.InvariantCulture)}) exited with code {process.ExitCode.ToString(CultureInfo.InvariantCulture)}");
            clean &= process.ExitCode == 0;
        }

        Console.WriteLine(clean ? "All instances stopped cleanly." : "Not every instance stopped cleanly.");
        return clean;
    }

    /// <summary>Ctrl+C (SIGINT), SIGTERM, SIGHUP, or a line on standard input (Enter) complete <paramref name="stop"/>.</summary>
    private static Registrations ListenForStop(TaskCompletionSource<string> stop)
    {
        var registrations = new List<IDisposable>();
        foreach (var (signal, name) in new[] { (PosixSignal.SIGINT, "Ctrl+C"), (PosixSignal.SIGTERM, "SIGTERM"), (PosixSignal.SIGHUP, "SIGHUP") })
        {
            try
            {
                registrations.Add(PosixSignalRegistration.Create(signal, context =>
                {
                    // Handled here: the launcher stops the instances and then exits by itself.
                    context.Cancel = true;
                    stop.TrySetResult(name);
                }));
            }
            catch (PlatformNotSupportedException)
            {
                // SIGHUP has no equivalent on Windows.
            }
        }

        // End of input (no terminal, stdin closed or /dev/null) is not a request to stop: only a line is.
        var reader = new Thread(() =>
        {
            try
            {
                if (Console.In.ReadLine() is not null)
                {
                    stop.TrySetResult("Enter");
                }
            }
            catch (IOException)
            {
            }
        })
        {
            IsBackground = true,
            Name = "stdin",
        };
        reader.Start();
        return new Registrations(registrations);
    }

    /// <summary>
    /// Distinct ports that were free on 127.0.0.1 a moment ago (for TCP and UDP both), from 10000-14999: below the range
    /// the kernel hands out for outgoing connections (32768-60999 on Linux), so no dial grabs one first, and apart from
    /// the ranges the repository's tests and benchmarks take theirs from, so the launcher can run beside them.
    /// </summary>
    private static int[] FreePorts(int count)
    {
        var ports = new List<int>();
        while (ports.Count < count)
        {
            var port = RandomNumberGenerator.GetInt32(10000, 15000);
            if (!ports.Contains(port) && IsFree(port, SocketType.Stream, ProtocolType.Tcp) && IsFree(port, SocketType.Dgram, ProtocolType.Udp))
            {
                ports.Add(port);
            }
        }

        return [.. ports];
    }

    private static bool IsFree(int port, SocketType type, ProtocolType protocol)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
            socket.Bind(new IPEndPoint(type == SocketType.Dgram ? IPAddress.Any : IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The MyClusteredApp.dll this project's build made (recorded by LocalCluster.csproj).</summary>
    private static string? MyClusteredAppPath() =>
        typeof(Launcher).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "MyClusteredAppPath")?.Value;

    /// <summary>The dotnet host running this program, so that the instances run on the same .NET.</summary>
    private static string DotnetHost()
    {
        var executable = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } self && Path.GetFileName(self).Equals(executable, StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        // Started through its app host (as dotnet run does): the shared runtime lives in <root>/shared/Microsoft.NETCore.App/<version>/.
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var beside = Path.Combine(root, executable);
        return File.Exists(beside) ? beside : executable;
    }

    private sealed class Registrations(List<IDisposable> registrations) : IDisposable
    {
        public void Dispose() => registrations.ForEach(r => r.Dispose());
    }
}
