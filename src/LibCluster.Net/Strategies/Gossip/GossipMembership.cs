using LibCluster.Nodes;

namespace LibCluster.Strategies.Gossip;

/// <summary>What a heartbeat did to the membership.</summary>
internal enum GossipObservation
{
    /// <summary>A known node, same creation and port: only its last-heard time moved.</summary>
    Refreshed,

    /// <summary>A node not known before.</summary>
    Added,

    /// <summary>A known node with a new creation (it restarted) and the same port: the set is unchanged.</summary>
    Restarted,

    /// <summary>A known node with a new port: the set changed.</summary>
    Moved,

    /// <summary>An unknown node, refused because the table is full.</summary>
    Full,
}

/// <summary>
/// The nodes heard by gossip: creation, port and when each was last heard, on the <see cref="TimeProvider"/>'s
/// timestamp clock. Lives as long as the strategy, so a restarted enumeration keeps what it knew. Thread-safe.
/// </summary>
internal sealed class GossipMembership(TimeProvider time, TimeSpan expireAfter, int capacity)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<NodeName, Member> _members = [];

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _members.Count;
            }
        }
    }

    /// <summary>Records a heartbeat heard now. <paramref name="previous"/> is the node's creation and port before it.</summary>
    public GossipObservation Observe(GossipHeartbeat heartbeat, out (uint Creation, int Port) previous)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            if (!_members.TryGetValue(heartbeat.Name, out var member))
            {
                previous = default;
                if (_members.Count >= capacity)
                {
                    return GossipObservation.Full;
                }

                _members.Add(heartbeat.Name, new Member(heartbeat.Creation, heartbeat.Port, now));
                return GossipObservation.Added;
            }

            previous = (member.Creation, member.Port);
            member.LastHeard = now;
            var restarted = member.Creation != heartbeat.Creation;
            var moved = member.Port != heartbeat.Port;
            member.Creation = heartbeat.Creation;
            member.Port = heartbeat.Port;
            return moved ? GossipObservation.Moved : restarted ? GossipObservation.Restarted : GossipObservation.Refreshed;
        }
    }

    /// <summary>
    /// Counts every known node as heard now. A restarted enumeration calls it: while nothing listened, silence proved
    /// nothing, so each node gets a whole <c>ExpireAfter</c> to be heard again before it is forgotten.
    /// </summary>
    public void RefreshAll()
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            foreach (var member in _members.Values)
            {
                member.LastHeard = now;
            }
        }
    }

    /// <summary>Forgets the nodes not heard from for <c>ExpireAfter</c>, adding them to <paramref name="expired"/>.</summary>
    public void Expire(List<NodeName> expired)
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            foreach (var (name, member) in _members)
            {
                if (time.GetElapsedTime(member.LastHeard, now) >= expireAfter)
                {
                    expired.Add(name);
                }
            }

            foreach (var name in expired)
            {
                _members.Remove(name);
            }
        }
    }

    /// <summary>How long until the next node expires, unless it is heard meanwhile; null when none is known.</summary>
    public TimeSpan? UntilNextExpiry()
    {
        var now = time.GetTimestamp();
        lock (_gate)
        {
            TimeSpan? next = null;
            foreach (var member in _members.Values)
            {
                var left = expireAfter - time.GetElapsedTime(member.LastHeard, now);
                if (next is null || left < next)
                {
                    next = left;
                }
            }

            return next;
        }
    }

    /// <summary>The known nodes, each dialled at the host in its name and the port it announced.</summary>
    public HashSet<NodeAddress> Snapshot()
    {
        lock (_gate)
        {
            var set = new HashSet<NodeAddress>(_members.Count);
            foreach (var (name, member) in _members)
            {
                set.Add(new NodeAddress(name, member.Port));
            }

            return set;
        }
    }

    private sealed class Member(uint creation, int port, long lastHeard)
    {
        public uint Creation { get; set; } = creation;

        public int Port { get; set; } = port;

        public long LastHeard { get; set; } = lastHeard;
    }
}
