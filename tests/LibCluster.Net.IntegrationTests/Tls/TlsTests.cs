using System.Net;
using System.Net.Sockets;
using System.Text;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh.Transport;

namespace LibCluster.IntegrationTests.Tls;

/// <summary>Mutual TLS 1.3 under the mesh handshake, with a CA made in the test.</summary>
public sealed class TlsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task ConnectAsync_BothNodesCertifiedByTheClusterCa_ConnectOverTlsAndTalk()
    {
        var pki = new TestCertificates("Cluster CA");
        await using var a = TestNode.Start("a", tls: new MeshTls(pki.Issue("a"), pki.Roots, checkCertificateName: true));
        await using var b = TestNode.Start("b", tls: new MeshTls(pki.Issue("b"), pki.Roots, checkCertificateName: false));
        using var _ = b.Cluster.Register("echo", (m, ct) => m.ReplyAsync(m.Payload, ct));

        await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        var reply = await a.Cluster.RequestAsync(b.Name, "echo", "over tls"u8.ToArray(), Timeout);

        Encoding.UTF8.GetString(reply.Payload.Span).Should().Be("over tls");
        a.Manager.GetConnection(b.Name)!.IsSecure.Should().BeTrue();
        await Eventually.TrueAsync(() => b.Manager.GetConnection(a.Name) is { IsSecure: true }, Timeout, "b holds the TLS connection too");
    }

    [Fact]
    public async Task ConnectAsync_PeerCertifiedByAnotherCa_IsRefusedEvenWithTheRightCookie()
    {
        var cluster = new TestCertificates("Cluster CA");
        var stranger = new TestCertificates("Some other CA");
        await using var a = TestNode.Start("a", tls: new MeshTls(cluster.Issue("a"), cluster.Roots, checkCertificateName: false));
        await using var intruder = TestNode.Start("x", tls: new MeshTls(stranger.Issue("x"), cluster.Roots, checkCertificateName: false));

        var connect = async () => await intruder.Cluster.ConnectAsync(a.Address).AsTask().WaitAsync(Timeout);

        await connect.Should().ThrowAsync<ClusterConnectException>();
        a.Cluster.ConnectedNodes.Should().BeEmpty();
        intruder.Cluster.ConnectedNodes.Should().BeEmpty();
    }

    [Fact]
    public async Task ConnectAsync_PlainNodeToTlsNode_NeverConnects()
    {
        var pki = new TestCertificates("Cluster CA");
        await using var secure = TestNode.Start("s", tls: new MeshTls(pki.Issue("s"), pki.Roots, checkCertificateName: false));
        await using var plain = TestNode.Start("p");

        var plainToSecure = async () => await plain.Cluster.ConnectAsync(secure.Address).AsTask().WaitAsync(Timeout);
        var secureToPlain = async () => await secure.Cluster.ConnectAsync(plain.Address).AsTask().WaitAsync(Timeout);

        await plainToSecure.Should().ThrowAsync<ClusterConnectException>();
        await secureToPlain.Should().ThrowAsync<ClusterConnectException>();
        secure.Cluster.ConnectedNodes.Should().BeEmpty();
        plain.Cluster.ConnectedNodes.Should().BeEmpty();
    }

    [Fact]
    public async Task Traffic_OverTls_NeverShowsThePayloadOnTheWire()
    {
        // A relay between the nodes records every byte that crosses it: with TLS the marker must not appear,
        // and the same relay shows it in the clear without TLS (so the check can fail).
        var marker = Encoding.UTF8.GetBytes("MARKER-" + Guid.NewGuid().ToString("N"));
        var pki = new TestCertificates("Cluster CA");

        var tlsWire = await CaptureAsync(marker, () => new MeshTls(pki.Issue("n"), pki.Roots, checkCertificateName: false));
        var plainWire = await CaptureAsync(marker, () => null);

        plainWire.AsSpan().IndexOf(marker).Should().BeGreaterThanOrEqualTo(0, "without TLS the payload crosses in the clear");
        tlsWire.AsSpan().IndexOf(marker).Should().Be(-1, "with TLS the payload is encrypted");
        tlsWire.Length.Should().BeGreaterThan(marker.Length);
    }

    private static async Task<byte[]> CaptureAsync(byte[] marker, Func<MeshTls?> tls)
    {
        await using var a = TestNode.Start("a", tls: tls());
        await using var b = TestNode.Start("b", tls: tls());
        using var received = new SemaphoreSlim(0);
        using var _ = b.Cluster.Register("sink", (m, ct) =>
        {
            received.Release();
            return ValueTask.CompletedTask;
        });
        await using var relay = await RecordingRelay.StartAsync(b.Address.Port);

        await a.Cluster.ConnectAsync(new LibCluster.Nodes.NodeAddress(b.Name, "127.0.0.1", relay.Port)).AsTask().WaitAsync(Timeout);
        await a.Cluster.SendAsync(b.Name, "sink", marker);
        (await received.WaitAsync(Timeout)).Should().BeTrue();
        return relay.Recorded;
    }

    /// <summary>Forwards one TCP connection to a loopback port and keeps a copy of the bytes going that way.</summary>
    private sealed class RecordingRelay : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly MemoryStream _recorded = new();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _running;

        private RecordingRelay(Socket listener, int target)
        {
            _listener = listener;
            _running = RunAsync(target);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

        public byte[] Recorded
        {
            get
            {
                lock (_recorded)
                {
                    return _recorded.ToArray();
                }
            }
        }

        public static Task<RecordingRelay> StartAsync(int target)
        {
            var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen();
            return Task.FromResult(new RecordingRelay(listener, target));
        }

        private async Task RunAsync(int target)
        {
            try
            {
                using var inbound = await _listener.AcceptAsync(_stop.Token);
                using var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await outbound.ConnectAsync(new IPEndPoint(IPAddress.Loopback, target), _stop.Token);
                await Task.WhenAny(CopyAsync(inbound, outbound, record: true), CopyAsync(outbound, inbound, record: false));
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task CopyAsync(Socket from, Socket to, bool record)
        {
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    if (record)
                    {
                        lock (_recorded)
                        {
                            _recorded.Write(buffer, 0, read);
                        }
                    }

                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            await _running;
            _stop.Dispose();
        }
    }
}
