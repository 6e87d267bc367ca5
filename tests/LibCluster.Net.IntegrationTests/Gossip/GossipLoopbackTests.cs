using LibCluster.IntegrationTests.Support;
using LibCluster.Nodes;
using LibCluster.Strategies.Gossip;

namespace LibCluster.IntegrationTests.Gossip;

/// <summary>
/// Node processes on one host that find each other by multicast over the loopback interface. Each test runs in a
/// network namespace of its own whose only interface is that loopback: no heartbeat can reach a real interface.
/// </summary>
public sealed class GossipLoopbackTests
{
    private static readonly Dictionary<string, string> OnLoopback = new() { ["MulticastInterface"] = "127.0.0.1" };

    [RootFact]
    public async Task Gossip_FourProcessesOnLoopback_AllFindEachOtherIncludingOneOnAnotherPort()
    {
        await using var space = await NetworkNamespace.CreateAsync();
        using var probe = GossipProbe.Open(space, "233.252.1.32", 45892, "127.0.0.1");
        (string Name, int Port)[] layout = [("g0@127.0.0.1", 9001), ("g1@127.0.0.1", 9002), ("g2@127.0.0.1", 9003), ("g3@127.0.0.1", 19123)];
        var processes = layout.Select(n => NodeProcess.Start(n.Name, GossipNodes.Settings("127.0.0.1", n.Port, OnLoopback), space.CommandPrefix)).ToList();
        try
        {
            await GossipNodes.WaitListeningAsync(processes);

            await GossipNodes.WaitForFullMeshAsync(processes);

            // What went on the wire: each node announces its own listening port, 19123 included.
            using var key = GossipKey.Derive(GossipNodes.Secret);
            var announced = new Dictionary<string, int>();
            await probe.CaptureAsync(
                packet =>
                {
                    if (GossipPacket.TryRead(packet, key, out var received) == GossipReadStatus.Ok)
                    {
                        announced[received.Heartbeat.Name.Value] = received.Heartbeat.Port;
                    }

                    return announced.Count == layout.Length;
                },
                GossipNodes.Timeout);
            announced.Should().BeEquivalentTo(layout.ToDictionary(n => n.Name, n => n.Port));
        }
        finally
        {
            await GossipNodes.DisposeAllAsync(processes);
        }
    }

    [RootFact]
    public async Task Gossip_FrozenProcess_IsForgottenAfterExpireAfterAndRejoinsWhenItResumes()
    {
        // TickTime is a minute: a disconnect within seconds can only come from gossip forgetting the node.
        await using var space = await NetworkNamespace.CreateAsync();
        (string Name, int Port)[] layout = [("f0@127.0.0.1", 9001), ("f1@127.0.0.1", 9002), ("f2@127.0.0.1", 9003)];
        var processes = layout.Select(n => NodeProcess.Start(n.Name, GossipNodes.Settings("127.0.0.1", n.Port, OnLoopback, tickTime: "00:01:00"), space.CommandPrefix)).ToList();
        try
        {
            await GossipNodes.WaitListeningAsync(processes);
            await GossipNodes.WaitForFullMeshAsync(processes);
            var frozen = processes[2];
            var seen = processes.Take(2).Select(p => p.Lines.Length).ToArray();

            frozen.Signal("STOP");

            for (var i = 0; i < 2; i++)
            {
                var down = await processes[i].WaitForLineAsync(l => l.StartsWith($"DOWN {frozen.Name} ", StringComparison.Ordinal), GossipNodes.Timeout, $"{processes[i].Name} forgets the frozen {frozen.Name}", seen[i]);
                down.Should().EndWith(DisconnectReasons.Disconnect, "gossip stopped wanting the node, so the runtime disconnected it (a tick timeout would take a minute)");
            }

            seen = processes.Take(2).Select(p => p.Lines.Length).ToArray();
            frozen.Signal("CONT");

            for (var i = 0; i < 2; i++)
            {
                await processes[i].WaitForLineAsync(l => l.StartsWith($"UP {frozen.Name} ", StringComparison.Ordinal), GossipNodes.Timeout, $"{processes[i].Name} hears {frozen.Name} again and reconnects", seen[i]);
            }
        }
        finally
        {
            if (!processes[2].HasExited)
            {
                processes[2].Signal("CONT");
            }

            await GossipNodes.DisposeAllAsync(processes);
        }
    }
}
