using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LocalCluster;

/// <summary>Starts the node processes, relays what they print, and stops them on Ctrl+C.</summary>
internal static class Launcher
{
    public static async Task<int> RunAsync(int nodeCount)
    {
        var ports = Enumerable.Range(0, nodeCount).Select(_ => FreePort()).ToArray();
        var portList = string.Join(',', ports);
        Console.WriteLine($"Starting {nodeCount} nodes on 127.0.0.1 (ports {portList}); Ctrl+C stops them.");

        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stopping.TrySetResult();
        };

        var nodes = new List<Process>();
        for (var i = 0; i < nodeCount; i++)
        {
            nodes.Add(StartNode(i, portList));
        }

        var exited = Task.WhenAny(nodes.Select(n => n.WaitForExitAsync()));
        await Task.WhenAny(stopping.Task, exited);
        Console.WriteLine("Stopping the nodes...");
        foreach (var node in nodes)
        {
            if (!node.HasExited)
            {
                // Closing a node's stdin is its signal to say goodbye to its peers and stop.
                node.StandardInput.Close();
            }
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await Task.WhenAll(nodes.Select(n => n.WaitForExitAsync(timeout.Token)));
        }
        catch (OperationCanceledException)
        {
            foreach (var node in nodes.Where(n => !n.HasExited))
            {
                node.Kill(entireProcessTree: true);
            }
        }

        Console.WriteLine("All nodes stopped.");
        return nodes.All(n => n.ExitCode == 0) ? 0 : 1;
    }

    private static Process StartNode(int index, string portList)
    {
        // Run this same program again, in node mode, whether we were started as an app host or with `dotnet x.dll`.
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardInput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(Launcher).Assembly.Location);
        }

        info.ArgumentList.Add("--node");
        info.ArgumentList.Add(index.ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(portList);
        return Process.Start(info)!;
    }

    private static int FreePort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }
}
