using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Processes;

/// <summary>Nodes in separate OS processes on loopback, formed by the Static strategy, as an application would run them.</summary>
public sealed class MultiProcessTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static Dictionary<string, string> Settings(IReadOnlyList<(string Name, int Port)> nodes, int index, string tickTime = "00:00:02")
    {
        var settings = new Dictionary<string, string>
        {
            ["LibCluster__Node__Cookie"] = TestNode.Cookie,
            ["LibCluster__Node__Port"] = nodes[index].Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LibCluster__Node__TickTime"] = tickTime,
            ["LibCluster__Topologies__fixed__Strategy"] = "Static",
        };
        for (var i = 0; i < nodes.Count; i++)
        {
            settings[$"LibCluster__Topologies__fixed__Config__Nodes__{i}"] = $"{nodes[i].Name}:{nodes[i].Port}";
        }

        return settings;
    }

    private static List<(string Name, int Port)> Layout(int count) =>
        Enumerable.Range(0, count).Select(i => ($"proc{i}@127.0.0.1", NodeProcess.FreePort())).ToList();

    private static async Task<List<NodeProcess>> StartAllAsync(List<(string Name, int Port)> layout, string tickTime = "00:00:02")
    {
        var processes = layout.Select((n, i) => NodeProcess.Start(n.Name, Settings(layout, i, tickTime))).ToList();
        foreach (var process in processes)
        {
            await process.WaitForLineAsync(l => l.StartsWith("LISTENING", StringComparison.Ordinal), Timeout, "it listens");
        }

        return processes;
    }

    private static async Task WaitForFullMeshAsync(IReadOnlyList<NodeProcess> processes)
    {
        foreach (var process in processes)
        {
            var others = processes.Where(p => p != process).Select(p => p.Name).ToHashSet();
            await Eventually.TrueAsync(() => process.ConnectedNodes().SetEquals(others), Timeout, $"{process.Name} is connected to {string.Join(", ", others)}");
        }
    }

    [Fact]
    public async Task StaticTopology_ThreeProcesses_FormFullMesh()
    {
        var layout = Layout(3);
        var processes = await StartAllAsync(layout);
        try
        {
            await WaitForFullMeshAsync(processes);
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task KilledProcess_IsDetectedBySurvivors_AndRejoinsWithNewCreationWhenRestarted()
    {
        var layout = Layout(3);
        var processes = await StartAllAsync(layout);
        try
        {
            await WaitForFullMeshAsync(processes);
            var victim = processes[2];
            var firstCreation = processes[0].Lines.First(l => l.StartsWith($"UP {victim.Name} ", StringComparison.Ordinal)).Split(' ')[2];
            var seen = processes.Take(2).Select(p => p.Lines.Length).ToArray();

            victim.Kill();

            // The kernel closes a killed process's sockets, so survivors see the connection close well within TickTime.
            for (var i = 0; i < 2; i++)
            {
                await processes[i].WaitForLineAsync(l => l.StartsWith($"DOWN {victim.Name} ", StringComparison.Ordinal), TimeSpan.FromSeconds(2), $"{processes[i].Name} sees {victim.Name} down", seen[i]);
            }

            await victim.DisposeAsync();
            seen = processes.Take(2).Select(p => p.Lines.Length).ToArray();
            processes[2] = NodeProcess.Start(layout[2].Name, Settings(layout, 2));
            for (var i = 0; i < 2; i++)
            {
                var up = await processes[i].WaitForLineAsync(l => l.StartsWith($"UP {victim.Name} ", StringComparison.Ordinal), Timeout, $"{processes[i].Name} reconnects to the restarted {victim.Name}", seen[i]);
                up.Split(' ')[2].Should().NotBe(firstCreation, "a restarted node comes back with a new creation");
            }

            await WaitForFullMeshAsync(processes);
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task FrozenProcess_IsDetectedByTickTimeout_WithinTickTime()
    {
        // SIGSTOP keeps the sockets open but silent: only the ticks can tell that the node is gone.
        const double tickSeconds = 2;
        var layout = Layout(2);
        var processes = await StartAllAsync(layout, "00:00:02");
        try
        {
            await WaitForFullMeshAsync(processes);
            var seen = processes[0].Lines.Length;
            var started = System.Diagnostics.Stopwatch.StartNew();

            processes[1].Signal("STOP");
            var down = await processes[0].WaitForLineAsync(l => l.StartsWith($"DOWN {processes[1].Name} ", StringComparison.Ordinal), TimeSpan.FromSeconds(tickSeconds * 3), "the frozen node is detected", seen);
            started.Stop();

            down.Should().EndWith("tick_timeout");
            started.Elapsed.TotalSeconds.Should().BeLessThan(tickSeconds * 1.25 + 0.5, "a silent peer is declared down within 1.25 x TickTime");
            started.Elapsed.TotalSeconds.Should().BeGreaterThan(tickSeconds * 0.75, "a peer is not declared down before it has been silent for most of a TickTime");
        }
        finally
        {
            processes[1].Signal("CONT");
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task GracefulStop_PeersSeeShutdownAtOnce()
    {
        var layout = Layout(2);
        var processes = await StartAllAsync(layout);
        try
        {
            await WaitForFullMeshAsync(processes);
            var seen = processes[0].Lines.Length;

            await processes[1].StopAsync(Timeout);

            var down = await processes[0].WaitForLineAsync(l => l.StartsWith($"DOWN {processes[1].Name} ", StringComparison.Ordinal), TimeSpan.FromSeconds(2), "the stopped node is seen leaving", seen);
            down.Should().EndWith("shutdown");
        }
        finally
        {
            foreach (var process in processes)
            {
                await process.DisposeAsync();
            }
        }
    }
}
