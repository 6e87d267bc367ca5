using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace LibCluster.SampleTests.Support;

internal static class FreePorts
{
    private static readonly HashSet<int> s_issued = [];

    /// <summary>
    /// Distinct ports that were free on 127.0.0.1 a moment ago (TCP and UDP), never handed out before in this process.
    /// </summary>
    /// <remarks>
    /// <c>dotnet test</c> runs the test assemblies side by side, so each takes its ports from its own range below the
    /// kernel's range for outgoing connections (32768-60999 on Linux): sample tests 15000-19999, integration tests
    /// 20000-29999, the LocalCluster launcher (which these tests run) 10000-14999, benchmarks 30000-32767.
    /// </remarks>
    public static int[] Take(int count)
    {
        var ports = new List<int>();
        while (ports.Count < count)
        {
            var port = RandomNumberGenerator.GetInt32(15000, 20000);
            lock (s_issued)
            {
                if (!s_issued.Add(port))
                {
                    continue;
                }
            }

            if (IsFree(port, SocketType.Stream, ProtocolType.Tcp) && IsFree(port, SocketType.Dgram, ProtocolType.Udp))
            {
                ports.Add(port);
            }
        }

        return [.. ports];
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
