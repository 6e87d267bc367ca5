using System.Net;
using System.Net.Sockets;
using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// Connections that are reset (RST, not FIN) as soon as they are made, before or while the node accepts them, some after
/// half a HELLO: the listener neither stops accepting nor leaks handshake slots. Hundreds of connections at once: it runs
/// with the other connection-heavy tests.
/// </summary>
[Collection(ConnectionHeavy.Name)]
public sealed class ResetStormTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Listener_StormOfConnectionsResetOnArrival_KeepsAcceptingAndGivesBackEverySlot()
    {
        const int connections = 300;
        await using var target = HostileTarget.Start();
        var hello = RawTcp.HelloFrame(LibCluster.Nodes.NodeName.Parse("reset@127.0.0.1"));

        await Task.WhenAll(Enumerable.Range(0, connections).Select(async i =>
        {
            using var socket = await HostileSocket.ConnectAsync(target.EndPoint, IPAddress.Parse("127.0.0.7"), Timeout);
            if (i % 2 == 0)
            {
                await HostileSocket.TrySendAsync(socket, hello.AsMemory(0, hello.Length / 2), Timeout);
            }

            // Linger 0: closing sends a reset instead of a FIN.
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        })).WaitAsync(Timeout);

        await Eventually.TrueAsync(() => target.Manager.PendingInboundHandshakes == 0, Timeout, "every handshake slot is given back");
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        await peer.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await target.AssertServesAsync(peer, Timeout, "the listener still accepts after the storm");
        target.Log.WarningsWithEventId(1007).Should().BeEmpty("no accept failed");
    }
}
