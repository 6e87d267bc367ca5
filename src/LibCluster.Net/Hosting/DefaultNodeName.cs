using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace LibCluster.Hosting;

/// <summary>Works out this node's host when no name is configured.</summary>
internal static class DefaultNodeName
{
    /// <summary><c>CF_INSTANCE_INTERNAL_IP</c> (Cloud Foundry's container address), else the first non-loopback IPv4 address, else the machine name.</summary>
    public static string Host()
    {
        var cf = Environment.GetEnvironmentVariable("CF_INSTANCE_INTERNAL_IP");
        if (!string.IsNullOrWhiteSpace(cf))
        {
            return cf.Trim();
        }

        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
                {
                    continue;
                }

                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(unicast.Address))
                    {
                        return unicast.Address.ToString();
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
        }

        return Dns.GetHostName();
    }
}
