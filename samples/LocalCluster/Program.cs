// The README's first command: dotnet run --project samples/LocalCluster
//
// Starts three instances of samples/MyClusteredApp, each its own OS process, in the Development environment: they find
// each other with the Gossip strategy (multicast kept on 127.0.0.1) and connect over the mesh on 127.0.0.1. Once every
// instance is connected to the two others, prints each one's GET /. Ctrl+C, SIGTERM or Enter stops every instance
// gracefully: each says GOODBYE to its peers, and the launcher exits 0 when all of them exited 0.
using LocalCluster;

return await Launcher.RunAsync(instanceCount: 3);
