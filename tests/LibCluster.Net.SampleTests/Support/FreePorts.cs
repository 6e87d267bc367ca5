using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace LibCluster.SampleTests.Support;

internal static class FreePorts
{
    /// <summary>
    /// Distinct ports that were free on 127.0.0.1 a moment ago (TCP and UDP), taken below 32768: outside the kernel's
    /// range for outgoing connections (32768-60999 on Linux), so that no dial of a concurrent test grabs one first.
    /// </summary>
    public static int[] Take(int count)
    {
        var ports = new List<int>();
        while (ports.Count < count)
        {
            var port = RandomNumberGenerator.GetInt32(10000, 32768);
            if (!ports.Contains(port) && IsFree(port, SocketType.Stream, ProtocolType.Tcp) && IsFree(port, SocketType.Dgram, ProtocolType.Udp))
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
