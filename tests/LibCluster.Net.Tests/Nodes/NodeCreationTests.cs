using LibCluster.Nodes;

namespace LibCluster.Tests.Nodes;

public sealed class NodeCreationTests
{
    [Fact]
    public void NewCreation_ManyCalls_NeverZero()
    {
        for (var i = 0; i < 10_000; i++)
        {
            NodeCreation.NewCreation().Should().NotBe(0u);
        }
    }

    [Fact]
    public void NewCreation_ManyCalls_Varies()
    {
        var creations = Enumerable.Range(0, 1000).Select(_ => NodeCreation.NewCreation()).ToList();

        // Random 32-bit values: among 1000 the chance of even one repeat is about 1 in 8600.
        creations.Distinct().Should().HaveCountGreaterThanOrEqualTo(998);
    }

    [Fact]
    public void NewCreation_ManyCalls_UsesAllThirtyTwoBits()
    {
        var creations = Enumerable.Range(0, 1000).Select(_ => NodeCreation.NewCreation()).ToList();

        var everSet = creations.Aggregate(0u, (acc, c) => acc | c);
        var everClear = creations.Aggregate(0u, (acc, c) => acc | ~c);

        everSet.Should().Be(uint.MaxValue, "every bit should be set in some creation");
        everClear.Should().Be(uint.MaxValue, "every bit should be clear in some creation");
    }
}
