using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Threading.Channels;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Strategies.Gossip;

/// <summary>
/// The <c>Gossip</c> strategy: every <see cref="GossipStrategyOptions.HeartbeatInterval"/> (±20 %) this node sends a
/// UDP heartbeat with its name, creation and listening port to the multicast group (or the broadcast address), and it
/// wants connected every node it hears, dialled at the host in the node's name and the port it announced. A node not
/// heard from for <see cref="GossipStrategyOptions.ExpireAfter"/> is forgotten. With a secret, heartbeats are sealed
/// with AES-256-GCM, time-stamped and replay-checked.
/// </summary>
/// <remarks>
/// <para>
/// Not a polling strategy: the enumeration yields whenever the set changes (a node heard for the first time,
/// forgotten, or announcing another port). A node heard with a new creation restarted; it keeps its place.
/// </para>
/// <para>
/// The socket is opened when the enumeration starts and closed when it ends. The known nodes outlive an enumeration,
/// so a restarted one (after a socket error) does not forget the cluster: each known node gets a whole
/// <c>ExpireAfter</c> to be heard again. When it hears a node for the first time, this node answers with a heartbeat
/// of its own (no sooner than a fifth of the interval after the last) so that newcomers learn the cluster quickly.
/// </para>
/// </remarks>
internal sealed class GossipStrategy : ITopologyStrategy
{
    /// <summary>At most this many nodes are known at once; heartbeats from more are dropped (<c>too_many_nodes</c>).</summary>
    internal const int MaxNodes = 4096;

    /// <summary>At most this many nonces are remembered for the replay check.</summary>
    internal const int ReplayCapacity = 8192;

    // Larger than any UDP datagram, so nothing is truncated: oversized packets are seen whole and dropped as malformed.
    private const int ReceiveBufferLength = 65536;

    private readonly GossipStrategyOptions _options;
    private readonly uint _creation;
    private readonly Func<GossipStrategyOptions, IGossipTransport> _openTransport;
    private readonly Lock _gate = new();
    private GossipMembership? _members;
    private ReplayGuard? _replay;
    private bool _yielded;

    /// <param name="options">The options; checked, then copied.</param>
    /// <param name="creation">This node's creation (its incarnation), announced in the heartbeats.</param>
    public GossipStrategy(GossipStrategyOptions options, uint creation)
        : this(options, creation, UdpGossipTransport.Open)
    {
    }

    /// <summary>Creates the strategy with another transport (tests: an in-memory one, or sockets in a network namespace).</summary>
    internal GossipStrategy(GossipStrategyOptions options, uint creation, Func<GossipStrategyOptions, IGossipTransport> openTransport)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(openTransport);
        ArgumentOutOfRangeException.ThrowIfZero(creation);
        var errors = Validate(options, nameof(options));
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }

        _options = new GossipStrategyOptions
        {
            MulticastAddress = options.MulticastAddress,
            Port = options.Port,
            MulticastInterface = options.MulticastInterface,
            Ttl = options.Ttl,
            BroadcastOnly = options.BroadcastOnly,
            HeartbeatInterval = options.HeartbeatInterval,
            ExpireAfter = options.ExpireAfter,
            Secret = options.Secret,
        };
        _creation = creation;
        _openTransport = openTransport;
    }

    /// <summary>
    /// Checks the options; each error names its key under <paramref name="configPath"/> (for example
    /// <c>LibCluster:Topologies:lan:Config:MulticastAddress</c>). The secret's value never appears in an error.
    /// </summary>
    /// <returns>The errors; empty when the options are valid.</returns>
    internal static IReadOnlyList<string> Validate(GossipStrategyOptions options, string configPath)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(configPath);
        var errors = new List<string>();

        IPAddress? group = null;
        if (!options.BroadcastOnly)
        {
            if (!TryParseAddress(options.MulticastAddress, out group))
            {
                errors.Add($"{configPath}:MulticastAddress '{options.MulticastAddress}' is not an IP address; use a multicast group such as the default 233.252.1.32.");
            }
            else if (!IsMulticast(group))
            {
                errors.Add($"{configPath}:MulticastAddress '{options.MulticastAddress}' is not a multicast address (IPv4 224.0.0.0 to 239.255.255.255, IPv6 ff00::/8); to send to the broadcast address instead, set BroadcastOnly to true.");
                group = null;
            }
        }

        if (options.Port is < 1 or > 65535)
        {
            errors.Add($"{configPath}:Port {options.Port} is not a UDP port (1 to 65535); every node of the cluster must use the same one.");
        }

        if (!string.IsNullOrWhiteSpace(options.MulticastInterface))
        {
            if (!TryParseAddress(options.MulticastInterface, out var local))
            {
                errors.Add($"{configPath}:MulticastInterface '{options.MulticastInterface}' is not an IP address; give the address of the interface to send on and join with (for example 10.0.0.5, or 127.0.0.1 for nodes on one host).");
            }
            else if (local.Equals(IPAddress.Any) || local.Equals(IPAddress.IPv6Any) || IsMulticast(local) || local.Equals(IPAddress.Broadcast))
            {
                errors.Add($"{configPath}:MulticastInterface '{options.MulticastInterface}' is not the address of an interface; leave it empty to let the operating system choose.");
            }
            else if (options.BroadcastOnly && local.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork)
            {
                errors.Add($"{configPath}:MulticastInterface '{options.MulticastInterface}' is an IPv6 address, but BroadcastOnly works with IPv4 only (IPv6 has no broadcast; use an IPv6 multicast group).");
            }
            else if (group is not null && local.AddressFamily != group.AddressFamily)
            {
                errors.Add($"{configPath}:MulticastInterface '{options.MulticastInterface}' and MulticastAddress '{options.MulticastAddress}' are of different IP versions; use an interface address of the group's family.");
            }
        }
        else if (group is not null && UdpGossipTransport.NeedsInterface(group))
        {
            errors.Add($"{configPath}:MulticastInterface is required with the link-local IPv6 group '{options.MulticastAddress}': give the IPv6 address of the interface to use.");
        }

        if (options.Ttl is < 0 or > 255)
        {
            errors.Add($"{configPath}:Ttl {options.Ttl} is out of range (0 to 255; 1, the default, keeps heartbeats on the local network).");
        }

        var intervalValid = false;
        if (options.HeartbeatInterval < TimeSpan.FromMilliseconds(50))
        {
            errors.Add($"{configPath}:HeartbeatInterval {options.HeartbeatInterval} is too short: use at least 00:00:00.05 (the default is 00:00:05).");
        }
        else if (options.HeartbeatInterval > TimeSpan.FromHours(1))
        {
            errors.Add($"{configPath}:HeartbeatInterval {options.HeartbeatInterval} is longer than an hour; note that a bare number means days: write 00:00:05 for 5 seconds.");
        }
        else
        {
            intervalValid = true;
        }

        if (options.ExpireAfter is { } expireAfter)
        {
            if (intervalValid && expireAfter < options.HeartbeatInterval * 2)
            {
                errors.Add($"{configPath}:ExpireAfter {expireAfter} is shorter than twice HeartbeatInterval ({options.HeartbeatInterval}), so nodes would be forgotten between heartbeats; leave it empty for 3 × HeartbeatInterval.");
            }
            else if (expireAfter > TimeSpan.FromDays(1))
            {
                errors.Add($"{configPath}:ExpireAfter {expireAfter} is longer than a day; note that a bare number means days: write 00:00:15 for 15 seconds.");
            }
        }

        if (options.Secret is { } secret)
        {
            if (string.IsNullOrWhiteSpace(secret))
            {
                errors.Add($"{configPath}:Secret is empty: remove the key for plain heartbeats, or set it to the same {GossipStrategyOptions.MinSecretLength} or more random characters on every node.");
            }
            else if (secret.Length < GossipStrategyOptions.MinSecretLength)
            {
                errors.Add($"{configPath}:Secret is too short ({secret.Length} characters): use at least {GossipStrategyOptions.MinSecretLength} random characters, the same on every node.");
            }
        }

        return errors;
    }

    public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(
        TopologyContext context,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentOutOfRangeException.ThrowIfLessThan(context.DefaultPort, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(context.DefaultPort, 65535);

        var (members, replay, yieldAtOnce) = Attach(context.TimeProvider);
        using var key = _options.Secret is { } secret ? GossipKey.Derive(secret) : null;
        using var transport = _openTransport(_options);
        var warnings = new GossipWarnings(context.TimeProvider, GossipWarnings.DefaultInterval);
        var inbox = new GossipInbox(context, _creation, key, replay, members, warnings);
        var changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        var newcomers = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        GossipLog.Started(
            context.Logger,
            context.TopologyName,
            transport.Description,
            _options.HeartbeatInterval,
            _options.EffectiveExpireAfter,
            key is null ? "plain (set Secret to authenticate them)" : "sealed with AES-256-GCM");

        var receiving = Task.Run(() => ReceiveLoopAsync(transport, inbox, changed.Writer, newcomers.Writer, context, warnings, stopping.Token), CancellationToken.None);
        var sending = Task.Run(() => SendLoopAsync(transport, key, newcomers.Reader, changed.Writer, context, warnings, stopping.Token), CancellationToken.None);
        try
        {
            HashSet<NodeAddress>? last = null;
            var snapshot = members.Snapshot();
            if (snapshot.Count > 0 || yieldAtOnce)
            {
                last = snapshot;
                _yielded = true;
                yield return snapshot;
            }

            var expired = new List<NodeName>();
            while (await WaitForChangeAsync(changed.Reader, members.UntilNextExpiry(), context.TimeProvider, cancellationToken).ConfigureAwait(false))
            {
                expired.Clear();
                members.Expire(expired);
                foreach (var node in expired)
                {
                    GossipLog.NodeExpired(context.Logger, context.TopologyName, node, _options.EffectiveExpireAfter);
                }

                var current = members.Snapshot();
                if (last is null ? current.Count > 0 : !current.SetEquals(last))
                {
                    last = current;
                    _yielded = true;
                    yield return current;
                }
            }
        }
        finally
        {
            await stopping.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(receiving, sending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            GossipLog.Stopped(context.Logger, context.TopologyName, transport.Description);
        }
    }

    private static bool TryParseAddress(string? value, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        // IPAddress.TryParse also takes shorthands such as "10.1" or "1"; only a dotted quad or an IPv6 literal is meant.
        var text = value.Trim();
        return IPAddress.TryParse(text, out address) && (text.Contains(':') || text.Count(c => c == '.') == 3);
    }

    private static bool IsMulticast(IPAddress address) =>
        address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? address.IsIPv6Multicast
            : (address.GetAddressBytes()[0] & 0xF0) == 0xE0;

    // The known nodes and seen nonces belong to the strategy, not to one enumeration: a restarted enumeration keeps them.
    private (GossipMembership Members, ReplayGuard? Replay, bool YieldAtOnce) Attach(TimeProvider time)
    {
        lock (_gate)
        {
            if (_members is null)
            {
                _members = new GossipMembership(time, _options.EffectiveExpireAfter, MaxNodes);
                _replay = _options.Secret is null ? null : new ReplayGuard(_options.ReplayWindow, ReplayCapacity);
                return (_members, _replay, false);
            }

            _members.RefreshAll();
            return (_members, _replay, _yielded);
        }
    }

    private static async Task<bool> WaitForChangeAsync(ChannelReader<bool> changed, TimeSpan? untilExpiry, TimeProvider time, CancellationToken cancellationToken)
    {
        if (untilExpiry <= TimeSpan.Zero)
        {
            return true;
        }

        using var deadline = untilExpiry is { } due ? new CancellationTokenSource(due, time) : null;
        using var linked = deadline is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            // A loop that failed completes the channel with its exception, which surfaces here and restarts the strategy.
            if (!await changed.WaitToReadAsync(linked?.Token ?? cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException("The gossip loops stopped unexpectedly.");
            }

            changed.TryRead(out _);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (OperationCanceledException) when (deadline?.IsCancellationRequested == true)
        {
            return true;
        }
    }

    private static async Task ReceiveLoopAsync(
        IGossipTransport transport,
        GossipInbox inbox,
        ChannelWriter<bool> changed,
        ChannelWriter<bool> newcomers,
        TopologyContext context,
        GossipWarnings warnings,
        CancellationToken cancellationToken)
    {
        var buffer = new byte[ReceiveBufferLength];
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                GossipDatagram datagram;
                try
                {
                    datagram = await transport.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.MessageSize)
                {
                    inbox.Drop(GossipDropReasons.Malformed, null, "a datagram larger than any heartbeat");
                    continue;
                }
                catch (SocketException ex) when (ex.SocketErrorCode is SocketError.ConnectionReset or SocketError.NetworkReset)
                {
                    // Windows reports ICMP errors of earlier sends on the next receive; they say nothing about heartbeats.
                    GossipLog.ReceiveErrorIgnored(context.Logger, context.TopologyName, transport.Description, ex.Message);
                    continue;
                }

                GossipObservation? observation;
                try
                {
                    observation = inbox.Accept(buffer.AsSpan(0, Math.Min(datagram.Length, buffer.Length)), datagram.Source);
                }
#pragma warning disable CA1031 // A bug in handling one packet must not stop discovery: the packet is dropped, logged without flooding.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    context.Metrics?.GossipPacketDropped(context.TopologyName, GossipDropReasons.Malformed);
                    if (warnings.ShouldWarn("handler_failure", out _))
                    {
                        GossipLog.PacketFailed(context.Logger, context.TopologyName, datagram.Source, ex);
                    }

                    continue;
                }

                if (observation == GossipObservation.Added)
                {
                    newcomers.TryWrite(true);
                    changed.TryWrite(true);
                }
                else if (observation == GossipObservation.Moved)
                {
                    changed.TryWrite(true);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // Handed to the enumeration, which throws it so that the supervisor restarts the strategy.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            changed.TryComplete(ex);
        }
    }

    private async Task SendLoopAsync(
        IGossipTransport transport,
        GossipKey? key,
        ChannelReader<bool> newcomers,
        ChannelWriter<bool> changed,
        TopologyContext context,
        GossipWarnings warnings,
        CancellationToken cancellationToken)
    {
        var time = context.TimeProvider;
        var heartbeat = new GossipHeartbeat(context.Self, _creation, context.DefaultPort);
        var buffer = new byte[GossipPacket.MaxLength];
        var nonce = new byte[GossipKey.NonceLength];
        var interval = _options.HeartbeatInterval;
        var answerGap = interval / 5;
        try
        {
            while (true)
            {
                int length;
                if (key is null)
                {
                    length = GossipPacket.WritePlain(buffer, heartbeat);
                }
                else
                {
                    RandomNumberGenerator.Fill(nonce);
                    length = GossipPacket.WriteSealed(buffer, heartbeat, key, time.GetUtcNow().ToUnixTimeMilliseconds(), nonce);
                }

                try
                {
                    await transport.SendAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    // The network may come back (an interface going up, a route appearing): keep trying every interval.
                    if (warnings.ShouldWarn("send", out var suppressed))
                    {
                        GossipLog.SendFailed(context.Logger, context.TopologyName, transport.Description, ex.Message, suppressed);
                    }
                    else
                    {
                        GossipLog.SendFailedAgain(context.Logger, context.TopologyName, transport.Description, ex.Message);
                    }
                }

                var sentAt = time.GetTimestamp();
                var due = Jittered(interval);
                while (true)
                {
                    var left = due - time.GetElapsedTime(sentAt);
                    if (left <= TimeSpan.Zero)
                    {
                        break;
                    }

                    if (await WaitForNewcomerAsync(newcomers, left, time, cancellationToken).ConfigureAwait(false))
                    {
                        // Answer a node heard for the first time, but no sooner than a fifth of the interval after our last heartbeat.
                        var elapsed = time.GetElapsedTime(sentAt);
                        var answerAt = elapsed > answerGap ? elapsed : answerGap;
                        if (answerAt < due)
                        {
                            due = answerAt;
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // Handed to the enumeration, which throws it so that the supervisor restarts the strategy.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            changed.TryComplete(ex);
        }
    }

    /// <summary>True when a newcomer was signalled, false when <paramref name="timeout"/> passed first.</summary>
    private static async Task<bool> WaitForNewcomerAsync(ChannelReader<bool> newcomers, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        try
        {
            await newcomers.WaitToReadAsync(linked.Token).ConfigureAwait(false);
            return newcomers.TryRead(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>The interval varied uniformly by up to ±20 %, so that nodes started together do not stay in step.</summary>
    internal static TimeSpan Jittered(TimeSpan interval) =>
        interval * (0.8 + (0.4 * RandomNumberGenerator.GetInt32(0, 1_000_001) / 1_000_000));
}
