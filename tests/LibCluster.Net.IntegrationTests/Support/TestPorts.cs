using System.Net;
using System.Net.Sockets;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// Ports for nodes and servers that must be known before they start (Static and DNS topologies, dnsmasq).
/// </summary>
/// <remarks>
/// <c>dotnet test</c> runs the test assemblies side by side, so each one takes its ports from its own range, below the
/// kernel's ephemeral range (32768 and up on Linux) where no outgoing dial can take one first:
/// integration tests 20000-29999, sample tests 15000-19999, the LocalCluster launcher 10000-14999, benchmarks
/// 30000-32767. Inside this process no port is handed out twice, so a node restarted on its port finds it free.
/// </remarks>
internal static class TestPorts
{
    private const int First = 20000;
    private const int End = 30000;

    private static readonly HashSet<int> s_issued = [];

    /// <summary>A port free a moment ago on 127.0.0.1 for TCP and for UDP, never handed out before in this process.</summary>
    public static int Take()
    {
        for (var attempt = 0; attempt < 10_000; attempt++)
        {
            var port = Random.Shared.Next(First, End);
            lock (s_issued)
            {
                if (!s_issued.Add(port))
                {
                    continue;
                }
            }

            if (IsFree(port, SocketType.Stream, ProtocolType.Tcp) && IsFree(port, SocketType.Dgram, ProtocolType.Udp))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"No free port left in {First}-{End - 1} on 127.0.0.1.");
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
