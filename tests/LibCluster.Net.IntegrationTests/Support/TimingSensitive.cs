namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// Tests that measure time (tick timeouts, handshake timeouts) or the process's memory run in this collection, which
/// xunit runs on its own after the parallel collections, so that other tests' CPU and allocations do not disturb the
/// measurements.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimingSensitive : ICollectionFixture<ThreadPoolHeadroom>
{
    public const string Name = "Timing and memory sensitive";
}

/// <summary>
/// On a small machine (two cores: a minimum of two pool threads) the test host itself keeps pool threads blocked, so
/// timer callbacks — the mesh's tick timer among them — can start more than half a second late while the pool waits
/// to inject threads. That is the host's starvation, not the mesh's; the timing tests raise the pool's minimum so that
/// what they measure is the library.
/// </summary>
public sealed class ThreadPoolHeadroom
{
    private const int MinimumThreads = 16;

    public ThreadPoolHeadroom()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, MinimumThreads), Math.Max(io, MinimumThreads));
    }
}
