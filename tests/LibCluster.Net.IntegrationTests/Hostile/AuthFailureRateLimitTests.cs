using System.Net;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh;
using LibCluster.Mesh.Handshake;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Hostile;

/// <summary>
/// A stranger hammering a node with wrong-cookie handshakes from one address (127.0.0.3) is rate-limited: after
/// <see cref="AuthFailureLimiter.DefaultMaxFailures"/> failures its connections are closed on arrival for a cool-down
/// that doubles, each refusal counted (<c>rate_limited</c>) and each cool-down logged once; a good node (from 127.0.0.1)
/// connects and is served all the while.
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
        target.Log.WarningsWithEventId(1004).Should().HaveCount(guessed).And.OnlyContain(e => e.Value("Reason") == "bad_cookie");
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
