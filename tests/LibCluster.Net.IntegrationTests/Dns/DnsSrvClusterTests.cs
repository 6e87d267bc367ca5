using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Dns;

/// <summary>
/// The <c>DnsSrv</c> strategy end to end: real hosts on 127.0.0.1, each on a port of its own that only its SRV record
/// tells, discovering each other through a real dnsmasq.
/// </summary>
public sealed class DnsSrvClusterTests
{
    private const string Service = "_dist._tcp." + DnsmasqServer.Domain;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    private static string Target(int i) => $"n{i}.{DnsmasqServer.Domain}";

    private static DnsRecords Records(params (int Index, int Port)[] nodes)
    {
        var records = new DnsRecords();
        foreach (var (index, port) in nodes)
        {
            records.Host(Target(index), "127.0.0.1").Srv(Service, Target(index), port);
        }

        return records;
    }

    [DnsmasqFact]
    public async Task DnsSrvStrategy_NodesOnDifferentPorts_FormFullMesh()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        await using var dns = await DnsmasqServer.StartAsync(Records((1, ports[0]), (2, ports[1]), (3, ports[2])));
        await using var cluster = new DnsTestCluster();

        var nodes = new List<DnsTestCluster.Node>();
        for (var i = 0; i < 3; i++)
        {
            nodes.Add(await cluster.StartNodeAsync($"app@{Target(i + 1)}", "127.0.0.1", ports[i], "DnsSrv", Service, dns));
        }

        foreach (var node in nodes)
        {
            await node.WaitConnectedAsync(Timeout, nodes.Where(n => n != node).ToArray());
        }
    }

    [DnsmasqFact]
    public async Task DnsSrvStrategy_RecordsChangedAndServerRestarted_FollowsThem()
    {
        var ports = Enumerable.Range(0, 4).Select(_ => NodeProcess.FreePort()).ToArray();
        await using var dns = await DnsmasqServer.StartAsync(Records((1, ports[0]), (2, ports[1]), (3, ports[2])));
        await using var cluster = new DnsTestCluster();
        var a = await cluster.StartNodeAsync($"app@{Target(1)}", "127.0.0.1", ports[0], "DnsSrv", Service, dns);
        var b = await cluster.StartNodeAsync($"app@{Target(2)}", "127.0.0.1", ports[1]);
        var c = await cluster.StartNodeAsync($"app@{Target(3)}", "127.0.0.1", ports[2]);
        var d = await cluster.StartNodeAsync($"app@{Target(4)}", "127.0.0.1", ports[3]);
        await a.WaitConnectedAsync(Timeout, b, c);

        // SRV records are read at start only: this restarts dnsmasq on the same port.
        await dns.SetRecordsAsync(Records((1, ports[0]), (2, ports[1]), (4, ports[3]))).WaitAsync(Timeout);

        await a.WaitConnectedAsync(Timeout, b, d);
        await a.WaitDownAsync(Timeout, c);
        a.Log.Downs().Select(x => x.Node).Should().Equal(c.Name);
    }
}
