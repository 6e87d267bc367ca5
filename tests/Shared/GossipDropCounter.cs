using System.Diagnostics.Metrics;

namespace LibCluster.Testing;

/// <summary>
/// Counts the packets a gossip strategy drops, by reason, from the <c>libcluster.gossip.packets.dropped</c> counter,
/// for one topology only: the listener hears every meter in the process, and other tests run at the same time.
/// Shared as source by the unit tests' <c>GossipHarness</c> and the integration tests' <c>GossipPeer</c>.
/// </summary>
internal sealed class GossipDropCounter : IDisposable
{
    private const string InstrumentName = "libcluster.gossip.packets.dropped";

    private readonly string _topology;
    private readonly Dictionary<string, long> _drops = [];
    private readonly MeterListener _listener = new();

    /// <summary>Starts counting the drops tagged with <paramref name="topology"/>.</summary>
    public GossipDropCounter(string topology)
    {
        _topology = topology;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Name == InstrumentName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? topology = null, reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "topology")
                {
                    topology = tag.Value as string;
                }
                else if (tag.Key == "reason")
                {
                    reason = tag.Value as string;
                }
            }

            if (topology == _topology && reason is not null)
            {
                lock (_drops)
                {
                    _drops[reason] = _drops.GetValueOrDefault(reason) + value;
                }
            }
        });
        _listener.Start();
    }

    /// <summary>How many packets were dropped as <paramref name="reason"/> so far.</summary>
    public long Dropped(string reason)
    {
        lock (_drops)
        {
            return _drops.GetValueOrDefault(reason);
        }
    }

    public void Dispose() => _listener.Dispose();
}
