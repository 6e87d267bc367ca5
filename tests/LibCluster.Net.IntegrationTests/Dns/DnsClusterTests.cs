using LibCluster.IntegrationTests.Support;

namespace LibCluster.IntegrationTests.Dns;

/// <summary>
/// The <c>Dns</c> strategy end to end: real hosts on their own loopback addresses sharing one port, discovering each
/// other through the A records a real dnsmasq serves, as pods behind a headless service do.
/// </summary>
public sealed class DnsClusterTests
{
    private const string Query = "nodes." + DnsmasqServer.Domain;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [DnsmasqFact]
    public async Task DnsStrategy_EveryNodeListed_FormFullMesh()
    {
        var ip = DnsTestCluster.LoopbackBlock();
        var port = NodeProcess.FreePort();
        await using var dns = await DnsmasqServer.StartAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "3").Host(Query, ip + "4"));
        await using var cluster = new DnsTestCluster();

        var nodes = new List<DnsTestCluster.Node>();
        foreach (var last in new[] { "2", "3", "4" })
        {
            nodes.Add(await cluster.StartNodeAsync($"app@{ip}{last}", ip + last, port, "Dns", Query, dns));
        }

        foreach (var node in nodes)
        {
            await node.WaitConnectedAsync(Timeout, nodes.Where(n => n != node).ToArray());
        }
    }

    [DnsmasqFact]
    public async Task DnsStrategy_RecordsAddedAndRemoved_ConnectsAndDisconnectsThoseNodes()
    {
        var ip = DnsTestCluster.LoopbackBlock();
        var port = NodeProcess.FreePort();
        await using var dns = await DnsmasqServer.StartAsync(new DnsRecords().Host(Query, ip + "2"));
        await using var cluster = new DnsTestCluster();

        // b and c run no topology: whatever connects them is a's Dns topology.
        var a = await cluster.StartNodeAsync($"app@{ip}2", ip + "2", port, "Dns", Query, dns);
        var b = await cluster.StartNodeAsync($"app@{ip}3", ip + "3", port);
        var c = await cluster.StartNodeAsync($"app@{ip}4", ip + "4", port);

        await dns.SetRecordsAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "3")).WaitAsync(Timeout);
        await a.WaitConnectedAsync(Timeout, b);

        await dns.SetRecordsAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "3").Host(Query, ip + "4")).WaitAsync(Timeout);
        await a.WaitConnectedAsync(Timeout, b, c);

        await dns.SetRecordsAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "4")).WaitAsync(Timeout);
        await a.WaitConnectedAsync(Timeout, c);
        await b.WaitConnectedAsync(Timeout);

        await a.WaitDownAsync(Timeout, b);
        a.Log.Downs().Select(d => d.Node).Should().Equal(b.Name);
    }

    [DnsmasqFact]
    public async Task DnsStrategy_NameVanishesAfterItResolved_KeepsTheConnectionsUntilItIsBack()
    {
        var ip = DnsTestCluster.LoopbackBlock();
        var port = NodeProcess.FreePort();
        await using var dns = await DnsmasqServer.StartAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "3"));
        await using var cluster = new DnsTestCluster();
        var a = await cluster.StartNodeAsync($"app@{ip}2", ip + "2", port, "Dns", Query, dns);
        var b = await cluster.StartNodeAsync($"app@{ip}3", ip + "3", port);
        var c = await cluster.StartNodeAsync($"app@{ip}4", ip + "4", port);
        await a.WaitConnectedAsync(Timeout, b);
        var errorsBefore = cluster.DiscoveryErrors;

        // dnsmasq now answers NXDOMAIN for the name: after a good answer that is a failed lookup, not "no nodes".
        await dns.SetRecordsAsync(new DnsRecords().Host("elsewhere." + DnsmasqServer.Domain, ip + "9")).WaitAsync(Timeout);

        await Eventually.TrueAsync(() => cluster.DiscoveryErrors >= errorsBefore + 5, Timeout, "five lookups have answered NXDOMAIN");
        a.Log.Downs().Should().BeEmpty();
        a.Connected.Should().Equal(b.Name.Value);

        await dns.SetRecordsAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "4")).WaitAsync(Timeout);

        await a.WaitConnectedAsync(Timeout, c);
    }

    [DnsmasqFact]
    public async Task DnsStrategy_DnsServerDown_KeepsEveryConnectionThenFollowsTheRecordsWhenItIsBack()
    {
        var ip = DnsTestCluster.LoopbackBlock();
        var port = NodeProcess.FreePort();
        await using var dns = await DnsmasqServer.StartAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "3").Host(Query, ip + "4"));
        await using var cluster = new DnsTestCluster();
        var a = await cluster.StartNodeAsync($"app@{ip}2", ip + "2", port, "Dns", Query, dns);
        var b = await cluster.StartNodeAsync($"app@{ip}3", ip + "3", port);
        var c = await cluster.StartNodeAsync($"app@{ip}4", ip + "4", port);
        var d = await cluster.StartNodeAsync($"app@{ip}5", ip + "5", port);
        await a.WaitConnectedAsync(Timeout, b, c);
        var errorsBefore = cluster.DiscoveryErrors;

        await dns.StopAsync().WaitAsync(Timeout);

        // At least five polling intervals of failed lookups, during which nothing may go down.
        await Eventually.TrueAsync(() => cluster.DiscoveryErrors >= errorsBefore + 5, Timeout, "five lookups have failed while dnsmasq is down");
        a.Log.Downs().Should().BeEmpty("a failed lookup keeps the last set");
        a.Connected.Should().Equal(new[] { b.Name.Value, c.Name.Value }.Order(StringComparer.Ordinal));

        // Back with other records: c is gone from them, d is new.
        await dns.SetRecordsAsync(new DnsRecords().Host(Query, ip + "2").Host(Query, ip + "3").Host(Query, ip + "5")).WaitAsync(Timeout);
        await dns.RestartAsync().WaitAsync(Timeout);

        await a.WaitConnectedAsync(Timeout, b, d);
        await a.WaitDownAsync(Timeout, c);
        a.Log.Downs().Select(x => x.Node).Should().Equal(c.Name);
    }
}
