using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LibCluster.Strategies.Gossip;

/// <summary>
/// One UDP socket that sends heartbeats to the multicast group (or broadcast address) and receives them. It binds
/// with address reuse, so several nodes on one host share the port; on Linux and macOS it binds to the group address
/// itself, so it sees only that group's traffic. Opening is synchronous: the socket and the interface lookups belong
/// to the network namespace of the calling thread.
/// </summary>
internal sealed class UdpGossipTransport : IGossipTransport
{
    private readonly Socket _socket;
    private readonly IPEndPoint _destination;
    private readonly EndPoint _anyEndPoint;

    private UdpGossipTransport(Socket socket, IPEndPoint destination, string description)
    {
        _socket = socket;
        _destination = destination;
        _anyEndPoint = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        Description = description;
    }

    public string Description { get; }

    /// <summary>Opens the socket the options describe; throws <see cref="InvalidOperationException"/> with the reason when it cannot.</summary>
    public static UdpGossipTransport Open(GossipStrategyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var local = string.IsNullOrWhiteSpace(options.MulticastInterface) ? null : IPAddress.Parse(options.MulticastInterface.Trim());
        if (options.BroadcastOnly)
        {
            return OpenBroadcast(options.Port, local);
        }

        var group = IPAddress.Parse(options.MulticastAddress.Trim());
        return group.AddressFamily == AddressFamily.InterNetwork
            ? OpenIPv4(group, options.Port, local, options.Ttl)
            : OpenIPv6(group, options.Port, local, options.Ttl);
    }

    public async ValueTask SendAsync(ReadOnlyMemory<byte> packet, CancellationToken cancellationToken) =>
        await _socket.SendToAsync(packet, SocketFlags.None, _destination, cancellationToken).ConfigureAwait(false);

    public async ValueTask<GossipDatagram> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var result = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, _anyEndPoint, cancellationToken).ConfigureAwait(false);
        return new GossipDatagram(result.ReceivedBytes, result.RemoteEndPoint);
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>
    /// True for IPv6 groups of interface-local or link-local scope (<c>ff01::</c>, <c>ff02::</c>, <c>ff11::</c>,
    /// <c>ff12::</c>...): they mean nothing without an interface.
    /// </summary>
    internal static bool NeedsInterface(IPAddress group) =>
        group.AddressFamily == AddressFamily.InterNetworkV6 && group.IsIPv6Multicast && (group.GetAddressBytes()[1] & 0x0F) is 1 or 2;

    private static UdpGossipTransport OpenIPv4(IPAddress group, int port, IPAddress? local, int ttl)
    {
        var description = $"multicast {group}:{port} on {(local is null ? "the default interface" : local.ToString())}, TTL {ttl}";
        return OpenSocket(AddressFamily.InterNetwork, description, socket =>
        {
            // Windows cannot bind to a group address; elsewhere, binding to it keeps other traffic to the port out.
            socket.Bind(new IPEndPoint(OperatingSystem.IsWindows() ? IPAddress.Any : group, port));
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.AddMembership, local is null ? new MulticastOption(group) : new MulticastOption(group, local));
            if (local is not null)
            {
                socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastInterface, local.GetAddressBytes());
            }

            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastTimeToLive, ttl);
            socket.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.MulticastLoopback, true);
            return new IPEndPoint(group, port);
        });
    }

    private static UdpGossipTransport OpenIPv6(IPAddress group, int port, IPAddress? local, int hops)
    {
        var index = local is null ? 0 : InterfaceIndexOf(local);
        var scoped = NeedsInterface(group) ? new IPAddress(group.GetAddressBytes(), index) : group;
        var description = $"multicast [{group}]:{port} on {(local is null ? "the default interface" : $"{local} (interface {index})")}, hop limit {hops}";
        return OpenSocket(AddressFamily.InterNetworkV6, description, socket =>
        {
            socket.Bind(new IPEndPoint(OperatingSystem.IsWindows() ? IPAddress.IPv6Any : scoped, port));
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.AddMembership, new IPv6MulticastOption(group, index));
            if (index != 0)
            {
                socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastInterface, (int)index);
            }

            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastTimeToLive, hops);
            socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.MulticastLoopback, true);
            return new IPEndPoint(scoped, port);
        });
    }

    private static UdpGossipTransport OpenBroadcast(int port, IPAddress? local)
    {
        var destination = local is null ? IPAddress.Broadcast : SubnetBroadcastOf(local);
        var description = $"broadcast {destination}:{port}";
        return OpenSocket(AddressFamily.InterNetwork, description, socket =>
        {
            socket.EnableBroadcast = true;
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return new IPEndPoint(destination, port);
        });
    }

    private static UdpGossipTransport OpenSocket(AddressFamily family, string description, Func<Socket, IPEndPoint> configure)
    {
        var socket = new Socket(family, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Before Bind: several nodes on one host share the port, and every one of them gets each heartbeat.
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            var destination = configure(socket);
            return new UdpGossipTransport(socket, destination, description);
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            throw new InvalidOperationException($"Gossip could not open {description}: {ex.Message} ({ex.SocketErrorCode}).", ex);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static uint InterfaceIndexOf(IPAddress local)
    {
        if (local.ScopeId != 0)
        {
            return (uint)local.ScopeId;
        }

        if (local.Equals(IPAddress.IPv6Loopback))
        {
            return (uint)NetworkInterface.IPv6LoopbackInterfaceIndex;
        }

        var wanted = local.GetAddressBytes();
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            var properties = nic.GetIPProperties();
            foreach (var unicast in properties.UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == AddressFamily.InterNetworkV6 && unicast.Address.GetAddressBytes().AsSpan().SequenceEqual(wanted))
                {
                    return (uint)properties.GetIPv6Properties().Index;
                }
            }
        }

        throw new InvalidOperationException($"Gossip could not find an interface with the address {local} (MulticastInterface).");
    }

    private static IPAddress SubnetBroadcastOf(IPAddress local)
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.Equals(local))
                {
                    var address = local.GetAddressBytes();
                    var mask = unicast.IPv4Mask.GetAddressBytes();
                    for (var i = 0; i < address.Length; i++)
                    {
                        address[i] |= (byte)~mask[i];
                    }

                    // A /32 (or an interface without a mask) has no subnet broadcast: fall back to the limited one.
                    var broadcast = new IPAddress(address);
                    return broadcast.Equals(local) ? IPAddress.Broadcast : broadcast;
                }
            }
        }

        throw new InvalidOperationException($"Gossip could not find an interface with the address {local} (MulticastInterface).");
    }
}
