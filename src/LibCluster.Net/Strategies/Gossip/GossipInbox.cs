using System.Globalization;
using System.Net;
using LibCluster.Nodes;
using LibCluster.Topology;
using Microsoft.Extensions.Logging;

namespace LibCluster.Strategies.Gossip;

/// <summary>
/// Handles one received packet: reads it, checks its seal, time stamp and nonce, ignores this node's own heartbeats,
/// and records the others in the membership. Every dropped packet is counted by reason and logged without flooding
/// (<see cref="GossipWarnings"/>). Never throws on bad input.
/// </summary>
internal sealed class GossipInbox(
    TopologyContext context,
    uint creation,
    GossipKey? key,
    ReplayGuard? replay,
    GossipMembership members,
    GossipWarnings warnings)
{
    /// <summary>How many nodes heard, moved or restarted are logged as information per minute, each kind; the rest go to Debug.</summary>
    internal const int NoteworthyPerMinute = 64;

    /// <summary>What the packet did to the membership; null when it was dropped or was this node's own.</summary>
    public GossipObservation? Accept(ReadOnlySpan<byte> packet, EndPoint? source)
    {
        var status = GossipPacket.TryRead(packet, key, out var received);
        switch (status)
        {
            case GossipReadStatus.Ok:
                break;
            case GossipReadStatus.UnsupportedVersion:
                Drop(GossipDropReasons.UnsupportedVersion, source, packet[4], static version => $"format version {version}; this node speaks {GossipPacket.Version}");
                return null;
            case GossipReadStatus.WrongCluster:
                Drop(GossipDropReasons.WrongCluster, source, WrongClusterDetail(packet));
                return null;
            case GossipReadStatus.BadSeal:
                Drop(GossipDropReasons.BadSeal, source, "authentication failed: forged or altered");
                return null;
            default:
                Drop(GossipDropReasons.Malformed, source, packet.Length, static length => $"{length} bytes that are not a heartbeat");
                return null;
        }

        var heartbeat = received.Heartbeat;
        if (heartbeat.Name == context.Self && heartbeat.Creation == creation)
        {
            // Our own heartbeat, looped back by the group.
            return null;
        }

        if (received.Sealed && replay is not null)
        {
            var nowMs = context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
            switch (replay.Check(received.Nonce, received.TimestampMs, nowMs))
            {
                case ReplayVerdict.Stale:
                    Drop(GossipDropReasons.Stale, source, (heartbeat.Name, received.TimestampMs, nowMs), static s => StaleDetail(s.Name, s.TimestampMs, s.nowMs));
                    return null;
                case ReplayVerdict.Replayed:
                    Drop(GossipDropReasons.Replayed, source, heartbeat.Name, static name => $"a heartbeat of {name} seen before");
                    return null;
            }
        }

        if (heartbeat.Name == context.Self)
        {
            Drop(GossipDropReasons.NameConflict, source, heartbeat, static h => $"another node announces this node's name {h.Name} with creation {h.Creation}");
            return null;
        }

        var observation = members.Observe(heartbeat, out var previous);
        var topology = context.TopologyName;
        var logger = context.Logger;
        long suppressed;
        switch (observation)
        {
            // Rare events in a healthy cluster, but anyone can announce names when heartbeats are not sealed:
            // a burst of them must not flood the log either.
            case GossipObservation.Added:
                if (warnings.ShouldWarn("heard", out suppressed, NoteworthyPerMinute))
                {
                    GossipLog.NodeHeard(logger, topology, heartbeat.Name, heartbeat.Port, source);
                }
                else
                {
                    GossipLog.NodeHeardQuietly(logger, topology, heartbeat.Name, heartbeat.Port, source, suppressed);
                }

                break;
            case GossipObservation.Moved:
                if (warnings.ShouldWarn("moved", out suppressed, NoteworthyPerMinute))
                {
                    GossipLog.NodeMoved(logger, topology, heartbeat.Name, heartbeat.Port, previous.Port);
                }
                else
                {
                    GossipLog.NodeMovedAgain(logger, topology, heartbeat.Name, heartbeat.Port, previous.Port, suppressed);
                }

                break;
            case GossipObservation.Full:
                Drop(GossipDropReasons.TooManyNodes, source, (heartbeat.Name, members.Count), static s => $"{s.Name} is new and {s.Count} nodes are known already");
                return null;
        }

        if (previous.Creation != 0 && previous.Creation != heartbeat.Creation)
        {
            if (warnings.ShouldWarn("restarted", out suppressed, NoteworthyPerMinute))
            {
                GossipLog.NodeRestarted(logger, topology, heartbeat.Name, heartbeat.Creation, previous.Creation);
            }
            else
            {
                GossipLog.NodeRestartedAgain(logger, topology, heartbeat.Name, heartbeat.Creation, previous.Creation, suppressed);
            }
        }

        return observation;
    }

    /// <summary>Counts and logs a dropped packet (a warning at most once a minute per reason, Debug otherwise).</summary>
    public void Drop(string reason, EndPoint? source, string detail) => Drop(reason, source, detail, static d => d);

    /// <summary>
    /// Counts and logs a dropped packet; the detail is only formatted when it is logged, so a flood of bad packets
    /// costs no strings.
    /// </summary>
    public void Drop<TState>(string reason, EndPoint? source, TState state, Func<TState, string> detail)
    {
        context.Metrics?.GossipPacketDropped(context.TopologyName, reason);
        var logger = context.Logger;
        if (warnings.ShouldWarn(reason, out var suppressed))
        {
            if (logger.IsEnabled(LogLevel.Warning))
            {
                var text = detail(state);
                GossipLog.PacketDropped(logger, context.TopologyName, source, reason, text, suppressed);
            }
        }
        else
        {
            if (logger.IsEnabled(LogLevel.Debug))
            {
                var text = detail(state);
                GossipLog.PacketDroppedAgain(logger, context.TopologyName, source, reason, text);
            }
        }
    }

    private string WrongClusterDetail(ReadOnlySpan<byte> packet) =>
        key is null ? "a sealed heartbeat, but this topology has no Secret"
        : packet[5] == 0 ? "a plain heartbeat, but this topology has a Secret"
        : "sealed with another Secret";

    private static string StaleDetail(NodeName node, long timestampMs, long nowMs)
    {
        // Both are sane here (the stamp is authenticated), but keep the arithmetic safe anyway.
        var skew = (double)timestampMs - nowMs;
        var seconds = (skew / 1000).ToString("0.#", CultureInfo.InvariantCulture);
        return $"a heartbeat of {node} stamped {seconds} s from this node's clock: a replay, or clocks out of sync";
    }
}
