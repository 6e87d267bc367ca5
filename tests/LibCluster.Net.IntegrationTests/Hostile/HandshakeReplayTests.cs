using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh.Handshake;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// A wiretap records a real node's handshake (and a message after it) with a target, and the recording is played back to
/// the target on a new connection: the target's fresh CHALLENGE nonce makes the recorded proof worthless.
/// </summary>
public sealed class HandshakeReplayTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly IPAddress Eavesdropper = IPAddress.Parse("127.0.0.5");

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Listener_ReplayOfARecordedHandshake_RefusedAsBadCookieAndTheRecordedPeerKeepsItsConnection(bool pacedLikeTheOriginal)
    {
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();
        var peer = group.Add(TestNode.Start("peer"));
        var delivered = 0;
        using var inbox = target.Cluster.Register("inbox", (_, _) =>
        {
            Interlocked.Increment(ref delivered);
            return ValueTask.CompletedTask;
        });
        await using var wiretap = RecordingProxy.Start(target.EndPoint);
        await peer.Cluster.ConnectAsync(new NodeAddress(target.Name, "127.0.0.1", wiretap.Port)).AsTask().WaitAsync(Timeout);
        await peer.Cluster.SendAsync(target.Name, "inbox", "recorded"u8.ToArray()).AsTask().WaitAsync(Timeout);
        await Eventually.TrueAsync(() => Volatile.Read(ref delivered) == 1, Timeout, "the recorded message arrived");
        var recording = wiretap.Upstream(0);
        var helloLength = 4 + (int)BinaryPrimitives.ReadUInt32BigEndian(recording);
        recording.Length.Should().BeGreaterThan(helloLength + 4 + 1 + HandshakeMessages.MacSize, "HELLO, REPLY and the SEND were recorded");
        var live = target.Manager.GetConnection(peer.Name);
        live.Should().NotBeNull();

        var statusAndChallenge = 4 + 2 + 4 + 46 + target.Name.Value.Length;
        using var replay = await HostileSocket.ConnectAsync(target.EndPoint, Eavesdropper, Timeout);
        int answered;
        if (pacedLikeTheOriginal)
        {
            // HELLO, then the REPLY only once the CHALLENGE is there, as the real initiator did.
            await replay.SendAsync(recording.AsMemory(0, helloLength), SocketFlags.None).AsTask().WaitAsync(Timeout);
            var challenge = await ReadAtLeastAsync(replay, statusAndChallenge);
            await HostileSocket.TrySendAsync(replay, recording.AsMemory(helloLength), Timeout);
            answered = challenge + await RawTcp.ReadUntilClosedAsync(replay, Timeout);
        }
        else
        {
            await HostileSocket.TrySendAsync(replay, recording, Timeout);
            answered = await RawTcp.ReadUntilClosedAsync(replay, Timeout);
        }

        answered.Should().Be(statusAndChallenge, "the replay gets a fresh STATUS and CHALLENGE and then nothing: no ACK");
        await Eventually.TrueAsync(() => target.Counters.HandshakeFailures("bad_cookie") == 1, Timeout, "the failed proof is counted");
        var warning = target.Log.WarningsWithEventId(1004).Should().ContainSingle().Which;
        warning.Level.Should().Be(LogLevel.Warning);
        warning.Value("Reason").Should().Be("bad_cookie");
        warning.Value("RemoteEndPoint").Should().StartWith("127.0.0.5:");
        Volatile.Read(ref delivered).Should().Be(1, "the replayed SEND never reached a mailbox");
        target.Manager.GetConnection(peer.Name).Should().BeSameAs(live, "the replay, which claims the peer's name, displaced nothing");
        target.Cluster.ConnectedNodes.Should().Equal(peer.Name);
        await target.AssertServesAsync(peer, Timeout, "the recorded peer is still served");
    }

    private static async Task<int> ReadAtLeastAsync(Socket socket, int count)
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new byte[4096];
        var total = 0;
        while (total < count)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cts.Token);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }
}
