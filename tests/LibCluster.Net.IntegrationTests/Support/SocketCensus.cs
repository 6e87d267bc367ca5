using System.Globalization;

namespace LibCluster.IntegrationTests.Support;

/// <summary>Counts file descriptors of this process and TCP connections inside a test network namespace.</summary>
internal static class SocketCensus
{
    /// <summary>The open file descriptors of this process, and how many of them are sockets (Linux: /proc/self/fd).</summary>
    public static (int Total, int Sockets) OwnDescriptors()
    {
        var total = 0;
        var sockets = 0;
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            total++;
            try
            {
                if (new FileInfo(entry).LinkTarget is { } target && target.StartsWith("socket:", StringComparison.Ordinal))
                {
                    sockets++;
                }
            }
            catch (IOException)
            {
                // Closed while we looked (the enumeration's own descriptor among them).
            }
        }

        return (total, sockets);
    }

    /// <summary>
    /// The open file descriptors of this process by kind: the link target with inode numbers removed
    /// (<c>socket:</c>, <c>pipe:</c>, <c>anon_inode:[eventpoll]</c>) or the file's path.
    /// </summary>
    public static IReadOnlyDictionary<string, int> OwnDescriptorKinds()
    {
        var kinds = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(entry).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }

            if (target is null)
            {
                continue;
            }

            var bracket = target.IndexOf(":[", StringComparison.Ordinal);
            var kind = bracket > 0 && char.IsDigit(target[bracket + 2]) ? target[..(bracket + 1)] : target;
            kinds[kind] = kinds.TryGetValue(kind, out var count) ? count + 1 : 1;
        }

        return kinds;
    }

    /// <summary>
    /// The established TCP connections inside <paramref name="space"/> between <paramref name="local"/> and
    /// <paramref name="peer"/> where one end is <paramref name="port"/> (a node's listening port), as <c>ss</c> lists them.
    /// </summary>
    public static async Task<int> EstablishedAsync(NetworkNamespace space, string local, string peer, int port)
    {
        ArgumentNullException.ThrowIfNull(space);
        var listing = await NetworkNamespace.RunIpAsync("netns", "exec", space.Name, "ss", "-Htn", "state", "established");
        var count = 0;
        var portText = port.ToString(CultureInfo.InvariantCulture);
        foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // Recv-Q Send-Q Local:Port Peer:Port
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 4)
            {
                continue;
            }

            var (localAddress, localPort) = Split(words[2]);
            var (peerAddress, peerPort) = Split(words[3]);
            if (localAddress == local && peerAddress == peer && (localPort == portText || peerPort == portText))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The established TCP connections of <paramref name="space"/> with <paramref name="port"/> as one end: (local port, remote address, remote port).</summary>
    public static async Task<IReadOnlyList<(int LocalPort, string RemoteAddress, int RemotePort)>> ConnectionsAsync(NetworkNamespace space, int port)
    {
        ArgumentNullException.ThrowIfNull(space);
        var listing = await NetworkNamespace.RunIpAsync("netns", "exec", space.Name, "ss", "-Htn", "state", "established");
        var found = new List<(int, string, int)>();
        foreach (var line in listing.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 4)
            {
                continue;
            }

            var (_, localPort) = Split(words[2]);
            var (peerAddress, peerPort) = Split(words[3]);
            var lp = int.Parse(localPort, CultureInfo.InvariantCulture);
            var pp = int.Parse(peerPort, CultureInfo.InvariantCulture);
            if (lp == port || pp == port)
            {
                found.Add((lp, peerAddress, pp));
            }
        }

        return found;
    }

    private static (string Address, string Port) Split(string endPoint)
    {
        var colon = endPoint.LastIndexOf(':');
        var address = endPoint[..colon].Trim('[', ']');
        return (address, endPoint[(colon + 1)..]);
    }
}
