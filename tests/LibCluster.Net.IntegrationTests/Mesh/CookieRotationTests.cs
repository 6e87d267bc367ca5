using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Mesh;

/// <summary>
/// Changing a running cluster's cookie without a partition (docs/security.md): first every node accepts the new
/// cookie too, then every node dials with the new one and still accepts the old, then the old one goes. At each step
/// the nodes of the step before and of the step after must still connect, in both directions.
/// </summary>
public sealed class CookieRotationTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private const string Old = "the-old-cluster-cookie-0123456789abcdef";
    private const string New = "the-new-cluster-cookie-fedcba9876543210";

    public static TheoryData<string, string[], string, string[]> Neighbours => new()
    {
        // Step 1: a node that accepts the new cookie too, beside one not yet changed.
        { Old, [], Old, [New] },

        // Step 2: a node that dials with the new cookie, beside one that only accepts it so far.
        { Old, [New], New, [Old] },

        // Step 3: a node with only the new cookie, beside one that still accepts the old.
        { New, [Old], New, [] },
    };

    [Theory]
    [MemberData(nameof(Neighbours))]
    public async Task Connect_NeighbouringStepsOfARotation_ConnectBothWays(string cookieA, string[] acceptedA, string cookieB, string[] acceptedB)
    {
        foreach (var aDials in new[] { true, false })
        {
            await using var group = new NodeGroup();
            var a = group.Add(TestNode.Start("a", cookie: cookieA, acceptedCookies: acceptedA));
            var b = group.Add(TestNode.Start("b", cookie: cookieB, acceptedCookies: acceptedB));
            using var echo = b.Cluster.Register("echo", (message, ct) => message.ReplyAsync(message.Payload, ct));

            var (dialler, target) = aDials ? (a, b) : (b, a);
            await dialler.Cluster.ConnectAsync(target.Address).AsTask().WaitAsync(Timeout);
            await Eventually.TrueAsync(() => a.Manager.IsConnected(b.Name) && b.Manager.IsConnected(a.Name), Timeout, $"a and b connected ({dialler.Name} dialled)");

            var reply = await a.Cluster.RequestAsync(b.Name, "echo", "rotated"u8.ToArray(), Timeout).AsTask().WaitAsync(Timeout);
            reply.Payload.ToArray().Should().Equal("rotated"u8.ToArray());
        }
    }

    [Fact]
    public async Task Connect_OldOnlyAndNewOnly_AreRefusedBothWays()
    {
        // The positive control: skipping the middle step partitions the cluster.
        await using var group = new NodeGroup();
        var a = group.Add(TestNode.Start("a", cookie: Old));
        var b = group.Add(TestNode.Start("b", cookie: New));

        var aToB = async () => await a.Cluster.ConnectAsync(b.Address).AsTask().WaitAsync(Timeout);
        var bToA = async () => await b.Cluster.ConnectAsync(a.Address).AsTask().WaitAsync(Timeout);

        await aToB.Should().ThrowAsync<ClusterException>();
        await bToA.Should().ThrowAsync<ClusterException>();
        a.Manager.IsConnected(b.Name).Should().BeFalse();
        b.Manager.IsConnected(a.Name).Should().BeFalse();
    }
}
