using System.Net;
using System.Net.Sockets;

namespace LibCluster.Testing;

/// <summary>
/// Listen ports for nodes and servers that must be known before they start, from one range of ports.
/// </summary>
/// <remarks>
/// <c>dotnet test</c> runs the test assemblies side by side, so each takes its ports from its own range, all below
/// the kernel's range for outgoing connections (32768-60999 on Linux), where no dial can take one first:
/// integration tests 20000-29999, sample tests 15000-19999, the LocalCluster launcher 10000-14999, benchmarks
/// 30000-32767. A range never hands out a port twice, so a node restarted on its port finds it free.
/// </remarks>
internal sealed class PortRange(int first, int end)
{
    private readonly HashSet<int> _issued = [];

    /// <summary>A port free a moment ago on 127.0.0.1 for TCP and for UDP, never handed out before by this range.</summary>
    public int Take()
    {
        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            var port = Random.Shared.Next(first, end);
            lock (_issued)
            {
                if (!_issued.Add(port))
                {
                    continue;
                }
            }

            if (IsFree(port, SocketType.Stream, ProtocolType.Tcp) && IsFree(port, SocketType.Dgram, ProtocolType.Udp))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free port left in {first}-{end - 1} on 127.0.0.1.");
    }

    private static bool IsFree(int port, SocketType type, ProtocolType protocol)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, type, protocol);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
