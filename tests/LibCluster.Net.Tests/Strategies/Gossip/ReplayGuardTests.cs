using LibCluster.Strategies.Gossip;

namespace LibCluster.Tests.Strategies.Gossip;

public sealed class ReplayGuardTests
{
    private const long Now = 1_750_000_000_000;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(40);

    [Fact]
    public void Check_NewNonce_IsFresh_AndTheSameNonceAgainIsReplayed()
    {
        var guard = new ReplayGuard(Window, 100);

        guard.Check(1, Now, Now).Should().Be(ReplayVerdict.Fresh);
        guard.Check(1, Now, Now + 1000).Should().Be(ReplayVerdict.Replayed);
        guard.Check(2, Now, Now + 1000).Should().Be(ReplayVerdict.Fresh);
    }

    [Theory]
    [InlineData(-40_001)]
    [InlineData(40_001)]
    [InlineData(-86_400_000)]
    public void Check_StampOutsideTheWindow_IsStale(long skewMs)
    {
        var guard = new ReplayGuard(Window, 100);

        guard.Check(1, Now + skewMs, Now).Should().Be(ReplayVerdict.Stale);
        guard.Count.Should().Be(0, "stale heartbeats are not remembered");
    }

    [Theory]
    [InlineData(-40_000)]
    [InlineData(40_000)]
    [InlineData(0)]
    public void Check_StampAtTheEdgeOfTheWindow_IsFresh(long skewMs)
    {
        new ReplayGuard(Window, 100).Check(1, Now + skewMs, Now).Should().Be(ReplayVerdict.Fresh);
    }

    [Theory]
    [InlineData(long.MinValue)]
    [InlineData(long.MaxValue)]
    public void Check_ExtremeStamps_AreStaleWithoutOverflow(long stamp)
    {
        new ReplayGuard(Window, 100).Check(1, stamp, Now).Should().Be(ReplayVerdict.Stale);
    }

    [Fact]
    public void Check_AfterTheWindow_ForgetsNoncesAndTheirReplaysAreStale()
    {
        var guard = new ReplayGuard(Window, 100);
        for (UInt128 nonce = 0; nonce < 10; nonce++)
        {
            guard.Check(nonce, Now, Now);
        }

        var later = Now + 40_001;
        guard.Check(100, later, later).Should().Be(ReplayVerdict.Fresh);

        guard.Count.Should().Be(1, "the ten old nonces left the window");
        guard.Check(5, Now, later).Should().Be(ReplayVerdict.Stale);
    }

    [Fact]
    public void Check_AtCapacity_ForgetsTheOldestAndRefusesAnythingStampedNoLater()
    {
        var guard = new ReplayGuard(Window, 3);
        guard.Check(1, Now + 1, Now).Should().Be(ReplayVerdict.Fresh);
        guard.Check(2, Now + 2, Now).Should().Be(ReplayVerdict.Fresh);
        guard.Check(3, Now + 3, Now).Should().Be(ReplayVerdict.Fresh);

        guard.Check(4, Now + 4, Now).Should().Be(ReplayVerdict.Fresh);

        guard.Count.Should().Be(3);
        guard.Check(1, Now + 1, Now).Should().Be(ReplayVerdict.Replayed, "nonce 1 was forgotten, so everything stamped no later than it is refused");
        guard.Check(9, Now, Now).Should().Be(ReplayVerdict.Replayed);
        guard.Check(5, Now + 5, Now).Should().Be(ReplayVerdict.Fresh);
    }

    [Fact]
    public void Check_ManyNonces_MemoryStaysBounded()
    {
        var guard = new ReplayGuard(Window, 1000);

        for (UInt128 nonce = 0; nonce < 50_000; nonce++)
        {
            var now = Now + (long)(ulong)nonce;
            guard.Check(nonce, now, now);
        }

        guard.Count.Should().BeLessThanOrEqualTo(1000);
    }
}
