using System.Diagnostics.Metrics;
using System.Net;
using LibCluster.Diagnostics;
using LibCluster.Mesh;
using LibCluster.Tests.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LibCluster.Tests.Fuzz;

/// <summary>The per-address limit on failed authentications, on a fake clock.</summary>
public sealed class AuthFailureLimiterTests
{
    private static readonly IPEndPoint Attacker = new(IPAddress.Parse("192.0.2.7"), 40001);
    private static readonly IPEndPoint AttackerOtherPort = new(IPAddress.Parse("192.0.2.7"), 40002);
    private static readonly IPEndPoint Neighbour = new(IPAddress.Parse("192.0.2.8"), 40001);

    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Check_FewerFailuresThanTheLimit_Allows()
    {
        var limiter = new AuthFailureLimiter(_time);

        for (var i = 0; i < AuthFailureLimiter.DefaultMaxFailures - 1; i++)
        {
            limiter.RecordFailure(Attacker).Should().BeNull();
        }

        limiter.Check(Attacker, out _).Should().Be(AuthLimitVerdict.Allow);
    }

    [Fact]
    public void RecordFailure_FifthFailureWithinTheWindow_StartsTheFirstCooldownForTheWholeAddress()
    {
        var limiter = new AuthFailureLimiter(_time);

        var cooldowns = Enumerable.Range(0, 5).Select(_ =>
        {
            _time.Advance(TimeSpan.FromSeconds(2));
            return limiter.RecordFailure(Attacker);
        }).ToArray();

        cooldowns.Should().Equal(null, null, null, null, AuthFailureLimiter.DefaultFirstCooldown);
        limiter.Check(AttackerOtherPort, out var cooldown).Should().Be(AuthLimitVerdict.RefuseFirst, "the limit is per address, whatever the source port");
        cooldown.Should().Be(TimeSpan.FromSeconds(1));
        limiter.Check(Attacker, out _).Should().Be(AuthLimitVerdict.Refuse);
    }

    [Fact]
    public void Check_CooldownOver_AllowsAgain()
    {
        var limiter = new AuthFailureLimiter(_time);
        Fail(limiter, Attacker, 5);

        _time.Advance(TimeSpan.FromMilliseconds(999));
        limiter.Check(Attacker, out _).Should().NotBe(AuthLimitVerdict.Allow);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        limiter.Check(Attacker, out _).Should().Be(AuthLimitVerdict.Allow);
    }

    [Fact]
    public void RecordFailure_FailuresSpreadWiderThanTheWindow_NeverLimit()
    {
        var limiter = new AuthFailureLimiter(_time);

        for (var i = 0; i < 50; i++)
        {
            limiter.RecordFailure(Attacker).Should().BeNull($"failure {i} comes {AuthFailureLimiter.DefaultWindow.TotalSeconds / 4:0.#} s after the one before");
            _time.Advance(AuthFailureLimiter.DefaultWindow / 4);
        }

        limiter.Check(Attacker, out _).Should().Be(AuthLimitVerdict.Allow);
    }

    [Fact]
    public void RecordFailure_RepeatedCooldowns_DoubleUpToTheCap()
    {
        var limiter = new AuthFailureLimiter(_time);
        var seen = new List<double>();

        for (var round = 0; round < 9; round++)
        {
            var cooldown = Fail(limiter, Attacker, 5)!.Value;
            seen.Add(cooldown.TotalSeconds);
            _time.Advance(cooldown);
            limiter.Check(Attacker, out _).Should().Be(AuthLimitVerdict.Allow, $"cool-down {round} is over");
        }

        seen.Should().Equal(1, 2, 4, 8, 16, 32, 60, 60, 60);
    }

    [Fact]
    public void RecordFailure_QuietForTheLongestCooldownAfterACooldown_StartsAgainFromTheFirst()
    {
        var limiter = new AuthFailureLimiter(_time);
        Fail(limiter, Attacker, 5).Should().Be(TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));
        Fail(limiter, Attacker, 5).Should().Be(TimeSpan.FromSeconds(2));

        _time.Advance(TimeSpan.FromSeconds(2) + AuthFailureLimiter.DefaultMaxCooldown - TimeSpan.FromTicks(1));
        Fail(limiter, Attacker, 5).Should().Be(TimeSpan.FromSeconds(4), "not quiet for long enough yet");
        _time.Advance(TimeSpan.FromSeconds(4) + AuthFailureLimiter.DefaultMaxCooldown);
        Fail(limiter, Attacker, 5).Should().Be(TimeSpan.FromSeconds(1), "forgiven");
    }

    [Fact]
    public void Check_EachCooldown_SaysRefuseFirstOnceForTheLog()
    {
        var limiter = new AuthFailureLimiter(_time);
        Fail(limiter, Attacker, 5);

        var first = Enumerable.Range(0, 100).Select(i => limiter.Check(Attacker, out _)).ToArray();
        _time.Advance(TimeSpan.FromSeconds(1));
        Fail(limiter, Attacker, 5);
        var second = Enumerable.Range(0, 100).Select(i => limiter.Check(Attacker, out _)).ToArray();

        first.Count(v => v == AuthLimitVerdict.RefuseFirst).Should().Be(1);
        first[0].Should().Be(AuthLimitVerdict.RefuseFirst);
        first.Skip(1).Should().OnlyContain(v => v == AuthLimitVerdict.Refuse);
        second.Count(v => v == AuthLimitVerdict.RefuseFirst).Should().Be(1, "a new cool-down is logged again");
    }

    [Fact]
    public void Check_AnotherAddress_IsNotAffected()
    {
        var limiter = new AuthFailureLimiter(_time);
        Fail(limiter, Attacker, 20);

        limiter.Check(Neighbour, out _).Should().Be(AuthLimitVerdict.Allow);
        limiter.Check(new IPEndPoint(IPAddress.Loopback, 9001), out _).Should().Be(AuthLimitVerdict.Allow);
    }

    [Fact]
    public void RecordFailure_IPv4MappedToIPv6_CountsAsTheIPv4Address()
    {
        var limiter = new AuthFailureLimiter(_time);

        Fail(limiter, new IPEndPoint(Attacker.Address.MapToIPv6(), 5000), 3);
        Fail(limiter, Attacker, 2).Should().NotBeNull("a dual-mode listener reports the same peer either way");

        limiter.Check(new IPEndPoint(Attacker.Address.MapToIPv6(), 6000), out _).Should().NotBe(AuthLimitVerdict.Allow);
        limiter.TrackedAddresses.Should().Be(1);
    }

    [Fact]
    public void RecordFailure_IPv6Addresses_AreLimitedOneByOne()
    {
        var limiter = new AuthFailureLimiter(_time);
        var first = new IPEndPoint(IPAddress.Parse("2001:db8::1"), 1);
        var second = new IPEndPoint(IPAddress.Parse("2001:db8::2"), 1);

        Fail(limiter, first, 5);

        limiter.Check(first, out _).Should().NotBe(AuthLimitVerdict.Allow);
        limiter.Check(second, out _).Should().Be(AuthLimitVerdict.Allow);
    }

    [Fact]
    public void Check_NoAddress_Allows()
    {
        var limiter = new AuthFailureLimiter(_time);

        limiter.RecordFailure(null).Should().BeNull();
        limiter.RecordFailure(new DnsEndPoint("example.invalid", 1)).Should().BeNull();
        limiter.Check(null, out _).Should().Be(AuthLimitVerdict.Allow);
        limiter.TrackedAddresses.Should().Be(0);
    }

    [Fact]
    public void RecordFailure_MoreAddressesThanTheCap_KeepsTheCapAndForgetsTheLeastRecentlyTouched()
    {
        var limiter = new AuthFailureLimiter(_time, maxFailures: 2, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60), maxTrackedAddresses: 100);
        var blocked = new IPEndPoint(IPAddress.Parse("198.51.100.1"), 1);
        Fail(limiter, blocked, 2);

        for (var i = 0; i < 99; i++)
        {
            limiter.RecordFailure(new IPEndPoint(new IPAddress([10, 0, (byte)(i / 250), (byte)(i % 250)]), 1));
        }

        limiter.TrackedAddresses.Should().Be(100);
        limiter.Check(blocked, out _).Should().NotBe(AuthLimitVerdict.Allow, "it is still remembered");

        for (var i = 0; i < 10_000; i++)
        {
            limiter.RecordFailure(new IPEndPoint(new IPAddress([10, 1, (byte)(i / 250), (byte)(i % 250)]), 1));
        }

        limiter.TrackedAddresses.Should().Be(100, "memory is bounded however many addresses fail");
        limiter.Check(blocked, out _).Should().Be(AuthLimitVerdict.Allow, "the least recently touched address was forgotten");
    }

    [Fact]
    public void RecordFailure_AddressesThatNoLongerMatter_AreForgottenWhenOthersArrive()
    {
        var limiter = new AuthFailureLimiter(_time);
        for (var i = 0; i < 50; i++)
        {
            limiter.RecordFailure(new IPEndPoint(new IPAddress([10, 0, 0, (byte)i]), 1));
        }

        _time.Advance(AuthFailureLimiter.DefaultWindow);
        limiter.RecordFailure(Neighbour);

        limiter.TrackedAddresses.Should().Be(1, "a failure older than the window, with no cool-down, is nothing to remember");
    }

    [Fact]
    public void RecordFailure_ManyThreadsAtOnce_CountsEveryFailure()
    {
        // The clock stands still: every fifth failure of the address starts a cool-down (the count restarts at each).
        var limiter = new AuthFailureLimiter(_time);
        var started = 0;

        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 1000; i++)
            {
                if (limiter.RecordFailure(Attacker) is not null)
                {
                    Interlocked.Increment(ref started);
                }

                limiter.Check(Neighbour, out _);
            }
        });

        started.Should().Be(8 * 1000 / AuthFailureLimiter.DefaultMaxFailures);
    }

    [Fact]
    public void RefuseOnArrival_CoolingDown_CountsEveryRefusalAndLogsOncePerCooldown()
    {
        var limiter = new AuthFailureLimiter(_time);
        var logs = new CapturingLoggerProvider(_time);
        using var loggers = new LoggerFactory([logs]);
        var logger = loggers.CreateLogger("mesh");
        var metrics = new ClusterMetrics(null);
        long rateLimited = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "libcluster.handshake.failures")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason" && (string?)tag.Value == "rate_limited")
                {
                    Interlocked.Add(ref rateLimited, value);
                }
            }
        });
        listener.Start();

        limiter.RefuseOnArrival(Attacker, metrics, logger).Should().BeFalse();
        Fail(limiter, Attacker, 5);
        var refused = Enumerable.Range(0, 1000).Count(_ => limiter.RefuseOnArrival(Attacker, metrics, logger));
        limiter.RefuseOnArrival(Neighbour, metrics, logger).Should().BeFalse();

        refused.Should().Be(1000);
        Interlocked.Read(ref rateLimited).Should().BeGreaterThanOrEqualTo(1000, "every refusal is counted (other tests may count in parallel)");
        var warnings = logs.Records.Where(r => r.EventId == 1008).ToArray();
        warnings.Should().ContainSingle().Which.Level.Should().Be(LogLevel.Warning);
        warnings[0].Message.Should().Contain("192.0.2.7").And.Contain("5 failed authentications");
    }

    [Fact]
    public void Constructor_BadLimits_Throw()
    {
        var window = TimeSpan.FromSeconds(10);
        var first = TimeSpan.FromSeconds(1);
        var max = TimeSpan.FromSeconds(60);

        FluentActions.Invoking(() => new AuthFailureLimiter(_time, 0, window, first, max, 10)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new AuthFailureLimiter(_time, 5, TimeSpan.Zero, first, max, 10)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new AuthFailureLimiter(_time, 5, window, TimeSpan.Zero, max, 10)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new AuthFailureLimiter(_time, 5, window, max, first, 10)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new AuthFailureLimiter(_time, 5, window, first, max, 0)).Should().Throw<ArgumentOutOfRangeException>();
    }

    /// <summary>Records <paramref name="count"/> failures at the current time; returns the cool-down the last one started.</summary>
    private static TimeSpan? Fail(AuthFailureLimiter limiter, EndPoint remote, int count)
    {
        TimeSpan? last = null;
        for (var i = 0; i < count; i++)
        {
            last = limiter.RecordFailure(remote);
        }

        return last;
    }
}
