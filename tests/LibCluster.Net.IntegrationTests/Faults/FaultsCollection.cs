using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// The fault-injection tests (docs/reliability.md). They start node processes, build namespace LANs, churn twenty
/// hosts or measure detection times and memory, so they run on their own, one at a time, after the parallel
/// collections, with the thread pool's minimum raised (<see cref="ThreadPoolHeadroom"/>) so that the test host's own
/// blocked threads do not delay the timers under test.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultsCollection : ICollectionFixture<ThreadPoolHeadroom>
{
    public const string Name = "Faults";
}
