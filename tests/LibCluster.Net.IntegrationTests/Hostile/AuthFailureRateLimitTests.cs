using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using LibCluster.IntegrationTests.Support;
using LibCluster.IntegrationTests.Tls;
using LibCluster.Mesh;
using LibCluster.Mesh.Handshake;
using LibCluster.Mesh.Transport;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// A stranger hammering a node with wrong-cookie handshakes from one address (127.0.0.3) is rate-limited: after
/// <see cref="AuthFailureLimiter.DefaultMaxFailures"/> failures its connections are closed on arrival for a cool-down
/// that doubles, each refusal counted (<c>rate_limited</c>) and each cool-down logged once; a good node (from 127.0.0.1)
/// connects and is served all the while. With mutual TLS, failed TLS handshakes (a certificate from another CA) count
/// the same way.
/// </summary>
[Collection(TimingSensitive.Name)]
public sealed class AuthFailureRateLimitTests(ITestOutputHelper output)
{
    private const string WrongCookie = "a-guess-at-the-cluster-cookie-0123456789abcdef";
    private const int RateLimitedEvent = 1008;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly IPAddress Hammer = IPAddress.Parse("127.0.0.3");

    [Fact]
    public async Task Listener_WrongCookieHammerFromOneAddress_RateLimitedWhileAGoodNodeFromAnotherConnects()
    {
        await using var target = HostileTarget.Start();
        await using var group = new NodeGroup();
        var outcomes = new List<string>();

        // Five guesses get as far as the proof and fail it...
        for (var i = 0; i < AuthFailureLimiter.DefaultMaxFailures; i++)
        {
            outcomes.Add(await GuessAsync(target));
        }

        outcomes.Should().OnlyContain(o => o == "rejected", "each guess is checked, fails, and hears nothing more");

        // ...then connections from that address are closed on arrival. A good node from another address connects during
        // the cool-down: refused before and after its connect proves the cool-down covered it (cool-downs double, so a
        // slow machine gets there on a later one).
        var goodNodeConnectedDuringCooldown = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!goodNodeConnectedDuringCooldown && DateTime.UtcNow < deadline)
        {
            var before = await GuessAsync(target);
            outcomes.Add(before);
            if (before != "closed on arrival")
            {
                continue;
            }

            var good = group.Add(TestNode.Start($"good{outcomes.Count}"));
            await good.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
            await target.AssertServesAsync(good, Timeout, "the good node is served while the hammer is refused");
            var after = await GuessAsync(target);
            outcomes.Add(after);
            goodNodeConnectedDuringCooldown = after == "closed on arrival";
        }

        goodNodeConnectedDuringCooldown.Should().BeTrue($"the hammer was still refused after the good node connected (outcomes: {string.Join(", ", outcomes)})");
        var refused = outcomes.Count(o => o == "closed on arrival");
        var guessed = outcomes.Count(o => o == "rejected");
        outcomes.Should().OnlyContain(o => o == "rejected" || o == "closed on arrival");
        await Eventually.TrueAsync(() => target.Counters.HandshakeFailures("rate_limited") == refused, Timeout, "every refusal is counted");
        target.Counters.HandshakeFailures("bad_cookie").Should().Be(guessed, "only the guesses that were let through reached the proof");
        target.Manager.PendingInboundHandshakes.Should().Be(0, "a refused connection never takes a handshake slot");

        var limited = target.Log.WarningsWithEventId(RateLimitedEvent);
        output.WriteLine($"outcomes: {string.Join(", ", outcomes)}; {limited.Count} event 1008 lines: {string.Join(" | ", limited.Select(e => e.Message))}");
        limited.Should().NotBeEmpty().And.HaveCountLessThanOrEqualTo(refused, "at most one line per cool-down, not one per refusal");
        limited.Should().OnlyContain(e => e.Level == LogLevel.Warning && e.Value("RemoteEndPoint")!.StartsWith("127.0.0.3:", StringComparison.Ordinal));
        target.Log.WarningsWithEventId(1004).Should().ContainSingle("the warning is throttled per address: the first failure in a minute is logged, the rest counted")
            .Which.Value("Reason").Should().Be("bad_cookie");
        target.Cluster.ConnectedNodes.Should().NotBeEmpty().And.OnlyContain(n => n.Basename.StartsWith("good", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Listener_CorrectCookieFromAnAddressThatFailedBelowTheLimit_IsAccepted()
    {
        await using var target = HostileTarget.Start();
        var guesses = new List<string>();
        for (var i = 0; i < AuthFailureLimiter.DefaultMaxFailures - 1; i++)
        {
            guesses.Add(await GuessAsync(target));
        }

        await using var peer = await HostilePeer.ConnectAsync(target.EndPoint, Hammer, Timeout);
        var outcome = await peer.HandshakeAsync(target.Name, "mistaken", TestNode.Cookie, Timeout);

        guesses.Should().OnlyContain(g => g == "rejected");
        outcome.Verdict.Should().Be(HandshakeVerdict.Ok, "fewer failures than the limit change nothing for the address");
        target.Counters.HandshakeFailures("rate_limited").Should().Be(0);
    }

    [Fact]
    public async Task Listener_FailedTlsHandshakesFromOneAddress_RateLimitedLikeFailedCookieProofs()
    {
        var cluster = new TestCertificates("Cluster CA");
        var stranger = new TestCertificates("Some other CA");
        using var strangerCertificate = stranger.Issue("intruder");
        await using var target = HostileTarget.Start(tls: new MeshTls(cluster.Issue("target"), cluster.Roots, checkCertificateName: false));
        await using var group = new NodeGroup();

        // Certificates from another CA, from one address, until a connection is closed on arrival (cool-downs double,
        // so a slow machine gets there on a later one).
        var attempts = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (target.Counters.HandshakeFailures("rate_limited") == 0 && DateTime.UtcNow < deadline)
        {
            await PresentCertificateAsync(target, strangerCertificate);
            attempts++;
            await Eventually.TrueAsync(
                () => target.Counters.HandshakeFailures("tls_failed") + target.Counters.HandshakeFailures("rate_limited") == attempts,
                Timeout,
                $"attempt {attempts} is counted as a failed TLS handshake or a refusal");
        }

        var failed = target.Counters.HandshakeFailures("tls_failed");
        output.WriteLine($"{attempts} attempts: {failed} failed TLS handshakes, {target.Counters.HandshakeFailures("rate_limited")} refused on arrival");
        target.Counters.HandshakeFailures("rate_limited").Should().BeGreaterThan(0, "failed TLS handshakes start a cool-down as failed cookie proofs do");
        failed.Should().BeGreaterThanOrEqualTo(AuthFailureLimiter.DefaultMaxFailures);
        target.Log.WarningsWithEventId(RateLimitedEvent).Should().NotBeEmpty()
            .And.OnlyContain(e => e.Value("RemoteEndPoint")!.StartsWith("127.0.0.3:", StringComparison.Ordinal));
        target.Log.WarningsWithEventId(1004).Should().ContainSingle("throttled per address").Which.Value("Reason").Should().Be("tls_failed");

        // A node certified by the cluster's CA, from another address, connects meanwhile.
        var good = group.Add(TestNode.Start("good", tls: new MeshTls(cluster.Issue("good"), cluster.Roots, checkCertificateName: false)));
        await good.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
        await target.AssertServesAsync(good, Timeout, "a certified node is served while the stranger is cooled down");
    }

    /// <summary>A TLS client from the hammer's address that presents <paramref name="certificate"/>; waits until the node closes.</summary>
    private static async Task PresentCertificateAsync(HostileTarget target, X509Certificate2 certificate)
    {
        using var socket = await HostileSocket.ConnectAsync(target.EndPoint, Hammer, Timeout);
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await ssl.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = "127.0.0.1",
                    ClientCertificates = [certificate],
                    EnabledSslProtocols = SslProtocols.Tls13,
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                },
                cts.Token);

            // TLS 1.3: the client is done before the node has checked its certificate; the node's verdict is an alert.
            var buffer = new byte[256];
            while (await ssl.ReadAsync(buffer, cts.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            // Refused: by the certificate check, or on arrival.
        }
    }

    /// <summary>One wrong-cookie handshake from the hammer's address: <c>rejected</c> (it reached the proof) or <c>closed on arrival</c>.</summary>
    private static async Task<string> GuessAsync(HostileTarget target)
    {
        await using var guesser = await HostilePeer.ConnectAsync(target.EndPoint, Hammer, Timeout);
        try
        {
            await guesser.HandshakeAsync(target.Name, "guesser", WrongCookie, Timeout);
            return "accepted";
        }
        catch (MeshProtocolException ex) when (ex.Reason == "rejected")
        {
            return "rejected";
        }
        catch (MeshProtocolException ex) when (ex.Reason == "connection_closed")
        {
            // Closed before a STATUS: nothing of the HELLO was read.
            return "closed on arrival";
        }
        catch (IOException)
        {
            // Reset: the node closed the socket with the HELLO unread.
            return "closed on arrival";
        }
    }
}
