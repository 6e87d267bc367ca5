namespace LibCluster.Tests.Support;

/// <summary>The wait helper all test projects share (tests/Shared/Eventually.cs): what it reports when it gives up.</summary>
public sealed class EventuallyTests
{
    // Deadlines these tests let pass on purpose: short, since every one of them is waited out in full.
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(50);

    [Fact]
    public async Task TrueAsync_ConditionBecomesTrue_ReturnsAtTheCheckThatIsTrue()
    {
        var checks = 0;

        await Eventually.TrueAsync(() => ++checks == 3, "the third check");

        checks.Should().Be(3);
    }

    [Fact]
    public async Task TrueAsync_DeadlinePasses_SaysWhatItWaitedForAndTheState()
    {
        var wait = () => Eventually.TrueAsync(() => false, Short, "pigs fly", () => "every pig on the ground");

        var timeout = (await wait.Should().ThrowAsync<TimeoutException>()).Which;

        timeout.Message.Should().Contain("waiting until pigs fly").And.Contain("checks returned false").And.Contain("State: every pig on the ground");
        timeout.InnerException.Should().BeNull();
    }

    [Fact]
    public async Task TrueAsync_CheckThrowsUntilTheDeadline_ReportsTheLastFailure()
    {
        var checks = 0;
        Func<bool> condition = () => throw new InvalidOperationException($"check {++checks} failed");
        var wait = () => Eventually.TrueAsync(condition, Short, "the check passes");

        var timeout = (await wait.Should().ThrowAsync<TimeoutException>()).Which;

        checks.Should().BeGreaterThan(1, "a check that throws is tried again");
        timeout.Message.Should().Contain($"threw InvalidOperationException: check {checks} failed");
        timeout.InnerException.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be($"check {checks} failed");
    }

    [Fact]
    public async Task TrueAsync_AsyncCheckThrowsThenPasses_Returns()
    {
        var checks = 0;

        await Eventually.TrueAsync(
            async () =>
            {
                await Task.Yield();
                return ++checks < 3 ? throw new InvalidOperationException("not listening yet") : true;
            },
            Eventually.Timeout,
            "the server answers");

        checks.Should().Be(3);
    }
}
