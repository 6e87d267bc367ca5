using System.Net;
using System.Net.Sockets;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>Listen ports for nodes that must know each other's port before they start (Static topologies).</summary>
internal static class Ports
{
    /// <summary>
    /// <paramref name="count"/> distinct TCP ports that were free a moment ago on 127.0.0.1, from 30000-32767: below
    /// Linux's ephemeral range (32768 and up), so the mesh's own outgoing dials cannot take one before its node binds it,
    /// and apart from the ranges the test assemblies use, so a benchmark smoke test cannot collide with a test's node.
    /// </summary>
    public static int[] Free(int count)
    {
        var ports = new HashSet<int>();
        var attempts = 0;
        while (ports.Count < count)
        {
            if (++attempts > count * 50 + 1000)
            {
                throw new BenchFailedException($"could not find {count} free ports in 30000-32767 on 127.0.0.1");
            }

            var port = Random.Shared.Next(30000, 32768);
            if (ports.Contains(port))
            {
                continue;
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
                ports.Add(port);
            }
            catch (SocketException)
            {
                // Taken; try another.
            }
        }

        return [.. ports];
    }
}
