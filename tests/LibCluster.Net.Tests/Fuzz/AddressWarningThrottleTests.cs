using System.Net;
using LibCluster.Mesh;
using LibCluster.Tests.Topology;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace LibCluster.Tests.Fuzz;

/// <summary>The per-address throttle of the listener's warnings (events 1004 and 1006, summaries 1009), on a fake clock.</summary>
public sealed class AddressWarningThrottleTests : IDisposable
{
    private const int Throttled = 1004;
    private const int Summary = 1009;
    private static readonly IPEndPoint Attacker = new(IPAddress.Parse("192.0.2.7"), 40001);
    private static readonly IPEndPoint AttackerOtherPort = new(IPAddress.Parse("192.0.2.7"), 40002);
    private static readonly IPEndPoint Neighbour = new(IPAddress.Parse("192.0.2.8"), 40001);

    private readonly FakeTimeProvider _time = new();
    private readonly CapturingLoggerProvider _logs;
    private readonly LoggerFactory _loggers;
    private readonly ILogger _logger;

    public AddressWarningThrottleTests()
    {
        _logs = new CapturingLoggerProvider(_time);
        _loggers = new LoggerFactory([_logs]);
        _logger = _loggers.CreateLogger("mesh");
    }

    private LogRecord[] Summaries => _logs.Records.Where(r => r.EventId == Summary).ToArray();

    public void Dispose() => _loggers.Dispose();

    [Fact]
    public void ShouldLog_ManyFromOneAddressWithinTheWindow_OnlyTheFirstIsLogged()
    {
        var throttle = NewThrottle();

        var first = throttle.ShouldLog(Attacker, "bad_handshake");
        var rest = Enumerable.Range(0, 99).Select(i =>
        {
            _time.Advance(TimeSpan.FromMilliseconds(500));
            return throttle.ShouldLog(i % 2 == 0 ? Attacker : AttackerOtherPort, "bad_handshake");
        }).ToArray();

        first.Should().BeTrue("the first occurrence from an address is logged as usual");
        rest.Should().OnlyContain(log => !log, "the others within the window are only counted, whatever the source port");
        throttle.ShouldLog(Neighbour, "bad_handshake").Should().BeTrue("another address has a window of its own");
        Summaries.Should().BeEmpty("no window is over yet");
        throttle.TrackedAddresses.Should().Be(2);
    }

    [Fact]
    public void Flush_WindowOver_LogsOneSummaryWithTheCountAndForgetsTheAddress()
    {
        var throttle = NewThrottle();
        throttle.ShouldLog(Attacker, "timeout").Should().BeTrue();
        for (var i = 0; i < 41; i++)
        {
            throttle.ShouldLog(Attacker, i < 40 ? "timeout" : "frame_too_large").Should().BeFalse();
        }

        _time.Advance(AddressWarningThrottle.DefaultWindow - TimeSpan.FromTicks(1));
        throttle.Flush();
        Summaries.Should().BeEmpty("the window is not over yet");

        _time.Advance(TimeSpan.FromTicks(1));
        throttle.Flush();
        throttle.Flush();

        var summary = Summaries.Should().ContainSingle("one summary per window, however often the tick comes").Which;
        summary.Level.Should().Be(LogLevel.Warning);
        summary.Message.Should().Be("41 more warnings 1004 about connections from 192.0.2.7 within 60 s were only counted, not logged (the last: frame_too_large)");
        throttle.TrackedAddresses.Should().Be(0);
    }

    [Fact]
    public void ShouldLog_NextOccurrenceAfterTheWindow_LogsTheSummaryAndIsLoggedItself()
    {
        var throttle = NewThrottle();
        Occur(throttle, Attacker, 10);

        _time.Advance(AddressWarningThrottle.DefaultWindow);
        var logged = throttle.ShouldLog(Attacker, "bad_handshake");

        logged.Should().BeTrue("it opens a new window");
        Summaries.Should().ContainSingle("the summary of the old window comes before the caller logs the new one")
            .Which.Message.Should().StartWith("9 more warnings 1004 about connections from 192.0.2.7 within 60 s");
        throttle.ShouldLog(Attacker, "bad_handshake").Should().BeFalse("the new window is open");
    }

    [Fact]
    public void ShouldLog_OccurrenceFromAnotherAddress_LogsTheSummariesOfWindowsThatAreOver()
    {
        var throttle = NewThrottle();
        Occur(throttle, Attacker, 3);

        _time.Advance(AddressWarningThrottle.DefaultWindow);
        throttle.ShouldLog(Neighbour, "timeout").Should().BeTrue();

        Summaries.Should().ContainSingle().Which.Message.Should().StartWith("2 more warnings 1004 about connections from 192.0.2.7");
        throttle.TrackedAddresses.Should().Be(1, "only the neighbour's window is open");
    }

    [Fact]
    public void Flush_WindowOverWithNothingSuppressed_LogsNothing()
    {
        var throttle = NewThrottle();
        throttle.ShouldLog(Attacker, "timeout").Should().BeTrue();

        _time.Advance(AddressWarningThrottle.DefaultWindow * 3);
        throttle.Flush();

        Summaries.Should().BeEmpty("a single occurrence was logged in full");
        throttle.TrackedAddresses.Should().Be(0);
        throttle.ShouldLog(Attacker, "timeout").Should().BeTrue();
    }

    [Fact]
    public void ShouldLog_SteadyFloodFromOneAddress_AtMostTwoLinesPerWindow()
    {
        // One occurrence every 100 ms for ten windows, with the tick every 15 s as the connection manager's.
        var throttle = NewThrottle();
        var logged = 0;
        var occurrences = 0;
        for (var t = TimeSpan.Zero; t < AddressWarningThrottle.DefaultWindow * 10; t += TimeSpan.FromMilliseconds(100))
        {
            occurrences++;
            if (throttle.ShouldLog(Attacker, "bad_handshake"))
            {
                logged++;
            }

            if (t.Ticks % TimeSpan.FromSeconds(15).Ticks == 0)
            {
                throttle.Flush();
            }

            _time.Advance(TimeSpan.FromMilliseconds(100));
        }

        throttle.FlushAll();

        occurrences.Should().Be(6000);
        logged.Should().Be(10, "one line per window");
        Summaries.Should().HaveCount(10);
        (logged + Summaries.Sum(SuppressedCount)).Should().Be(occurrences, "every occurrence is either logged or counted in a summary");
    }

    [Fact]
    public void ShouldLog_MoreAddressesThanTheCap_KeepsTheCapAndSummarisesTheForgottenOnesEarly()
    {
        var throttle = new AddressWarningThrottle(_time, _logger, Throttled, AddressWarningThrottle.DefaultWindow, maxTrackedAddresses: 100);
        var logged = 0;
        for (var i = 0; i < 10_000; i++)
        {
            var address = new IPEndPoint(new IPAddress([10, (byte)(i / 62500), (byte)(i / 250 % 250), (byte)(i % 250)]), 1);
            for (var j = 0; j < 3; j++)
            {
                logged += throttle.ShouldLog(address, "bad_handshake") ? 1 : 0;
            }

            _time.Advance(TimeSpan.FromMilliseconds(1));
            throttle.TrackedAddresses.Should().BeLessThanOrEqualTo(100);
        }

        throttle.TrackedAddresses.Should().Be(100, "memory is bounded however many addresses fail");
        logged.Should().Be(10_000, "the first of each address is logged");
        Summaries.Should().HaveCount(9_900, "each forgotten address is summarised as it goes");
        Summaries.Should().OnlyContain(r => r.Message.StartsWith("2 more warnings 1004", StringComparison.Ordinal) && r.Message.Contains("within 0.1 s", StringComparison.Ordinal));

        throttle.FlushAll();
        Summaries.Should().HaveCount(10_000, "shutdown summarises the rest");
        throttle.TrackedAddresses.Should().Be(0);
    }

    [Fact]
    public void FlushAll_WindowNotOver_SummarisesWhatWasCountedSoFar()
    {
        var throttle = NewThrottle();
        Occur(throttle, Attacker, 5);
        Occur(throttle, Neighbour, 1);
        _time.Advance(TimeSpan.FromSeconds(12.34));

        throttle.FlushAll();

        Summaries.Should().ContainSingle("the neighbour's one occurrence was logged in full")
            .Which.Message.Should().StartWith("4 more warnings 1004 about connections from 192.0.2.7 within 12.3 s");
        throttle.TrackedAddresses.Should().Be(0);
    }

    [Fact]
    public void ShouldLog_IPv4MappedToIPv6_IsTheIPv4Address()
    {
        var throttle = NewThrottle();

        throttle.ShouldLog(new IPEndPoint(Attacker.Address.MapToIPv6(), 5000), "timeout").Should().BeTrue();
        throttle.ShouldLog(Attacker, "timeout").Should().BeFalse("a dual-mode listener reports the same peer either way");
        throttle.TrackedAddresses.Should().Be(1);
    }

    [Fact]
    public void ShouldLog_NoIPAddress_AlwaysLogged()
    {
        var throttle = NewThrottle();

        Enumerable.Range(0, 3).Select(_ => throttle.ShouldLog(null, "timeout")).Should().OnlyContain(log => log);
        throttle.ShouldLog(new DnsEndPoint("example.invalid", 1), "timeout").Should().BeTrue();
        throttle.TrackedAddresses.Should().Be(0);
    }

    [Fact]
    public void ShouldLog_ManyThreadsAtOnce_OneLoggedAndTheRestInTheSummary()
    {
        var throttle = NewThrottle();
        var logged = 0;

        Parallel.For(0, 8, worker =>
        {
            for (var i = 0; i < 1000; i++)
            {
                if (throttle.ShouldLog(Attacker, "bad_handshake"))
                {
                    Interlocked.Increment(ref logged);
                }
            }
        });
        _time.Advance(AddressWarningThrottle.DefaultWindow);
        throttle.Flush();

        logged.Should().Be(1);
        Summaries.Should().ContainSingle().Which.Message.Should().StartWith("7999 more warnings 1004");
    }

    [Fact]
    public void Constructor_BadLimits_Throw()
    {
        FluentActions.Invoking(() => new AddressWarningThrottle(_time, _logger, Throttled, TimeSpan.Zero, 10)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new AddressWarningThrottle(_time, _logger, Throttled, TimeSpan.FromSeconds(1), 0)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => new AddressWarningThrottle(null!, _logger, Throttled)).Should().Throw<ArgumentNullException>();
        FluentActions.Invoking(() => new AddressWarningThrottle(_time, null!, Throttled)).Should().Throw<ArgumentNullException>();
    }

    private AddressWarningThrottle NewThrottle() => new(_time, _logger, Throttled);

    private static void Occur(AddressWarningThrottle throttle, EndPoint remote, int count)
    {
        for (var i = 0; i < count; i++)
        {
            throttle.ShouldLog(remote, "bad_handshake");
        }
    }

    private static long SuppressedCount(LogRecord summary) => long.Parse(summary.Message[..summary.Message.IndexOf(' ', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
}
