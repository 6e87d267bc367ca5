namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// Owns the nodes of a test and stops them all at once at the end, with a deadline: a node whose stop hangs fails
/// the test with its name instead of hanging the run. Stopping a node twice is harmless.
/// </summary>
internal sealed class NodeGroup : IAsyncDisposable
{
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    private readonly List<TestNode> _nodes = [];

    public TestNode Add(TestNode node)
    {
        lock (_nodes)
        {
            _nodes.Add(node);
        }

        return node;
    }

    /// <summary>Stops one node (gracefully: its peers get GOODBYE) within <paramref name="timeout"/>.</summary>
    public static async Task StopAsync(TestNode node, TimeSpan? timeout = null)
    {
        var stopping = node.DisposeAsync().AsTask();
        try
        {
            await stopping.WaitAsync(timeout ?? StopTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Stopping node {node.Name} did not finish within {(timeout ?? StopTimeout).TotalSeconds:0.#} s.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        TestNode[] nodes;
        lock (_nodes)
        {
            nodes = [.. _nodes];
        }

        var stops = nodes.Select(n => (Node: n, Task: n.DisposeAsync().AsTask())).ToArray();
        try
        {
            await Task.WhenAll(stops.Select(s => s.Task)).WaitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            var stuck = stops.Where(s => !s.Task.IsCompleted).Select(s => s.Node.Name.Value);
            throw new TimeoutException($"Stopping the nodes did not finish within {StopTimeout.TotalSeconds:0} s; still stopping: {string.Join(", ", stuck)}.");
        }
    }
}
