// Starts a real three-node LibCluster.Net cluster on this machine: this program launches itself three times
// (one OS process per node), each node finds the others through the Static strategy on 127.0.0.1, and each
// prints its view of the cluster. Ctrl+C stops every node gracefully.
using System.Globalization;
using LocalCluster;

if (args.Length >= 1 && args[0] == "--node")
{
    return await NodeMain.RunAsync(int.Parse(args[1], CultureInfo.InvariantCulture), args[2]);
}

return await Launcher.RunAsync(nodeCount: 3);
