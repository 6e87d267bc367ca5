using System.Diagnostics;
using System.Net;
using LibCluster.IntegrationTests.Support;
using LibCluster.Strategies.Dns;

namespace LibCluster.IntegrationTests.Dns;

/// <summary>The DnsClient-backed resolver against a real dnsmasq: what it makes of real answers and real failures.</summary>
public sealed class DnsClientResolverTests
{
    private const string Nodes = "nodes." + DnsmasqServer.Domain;
    private const string Service = "_dist._tcp." + DnsmasqServer.Domain;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromMilliseconds(500);

    private static DnsQuery Query(DnsmasqServer server, string name) => new(name, server.EndPoint, QueryTimeout);

    [DnsmasqFact]
    public async Task ResolveAddressesAsync_AAndAaaaRecords_ReturnsEveryAddress()
    {
        await using var server = await DnsmasqServer.StartAsync(
            new DnsRecords().Host(Nodes, "127.0.0.2").Host(Nodes, "127.0.0.3").Host(Nodes, "fd00::1").Host("other." + DnsmasqServer.Domain, "127.0.0.9"));

        var answer = await new DnsClientResolver().ResolveAddressesAsync(Query(server, Nodes), CancellationToken.None).WaitAsync(Timeout);

        answer.NameExists.Should().BeTrue();
        answer.Records.Should().BeEquivalentTo([IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"), IPAddress.Parse("fd00::1")]);
    }

    [DnsmasqFact]
    public async Task ResolveAddressesAsync_OnlyIPv4_ExistsWithoutIPv6()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Host(Nodes, "127.0.0.2"));

        var answer = await new DnsClientResolver().ResolveAddressesAsync(Query(server, Nodes), CancellationToken.None).WaitAsync(Timeout);

        answer.Should().BeEquivalentTo(new DnsAnswer<IPAddress>(true, [IPAddress.Parse("127.0.0.2")]));
    }

    [DnsmasqFact]
    public async Task ResolveAddressesAsync_UnknownName_ReturnsNameNotFound()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Host(Nodes, "127.0.0.2"));

        var answer = await new DnsClientResolver().ResolveAddressesAsync(Query(server, "missing." + DnsmasqServer.Domain), CancellationToken.None).WaitAsync(Timeout);

        answer.NameExists.Should().BeFalse();
        answer.Records.Should().BeEmpty();
    }

    [DnsmasqFact]
    public async Task ResolveAddressesAsync_ServerRefuses_ThrowsWithTheCode()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Host(Nodes, "127.0.0.2"));

        var resolve = () => new DnsClientResolver().ResolveAddressesAsync(Query(server, "myapp.example.org"), CancellationToken.None).WaitAsync(Timeout);

        (await resolve.Should().ThrowAsync<ClusterException>()).Which.Message.Should().Contain("REFUSED").And.Contain(server.NameServer);
    }

    [DnsmasqFact]
    public async Task ResolveAddressesAsync_ServerStopped_ThrowsWithinTheTimeoutAndRetry()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Host(Nodes, "127.0.0.2"));
        await server.StopAsync();
        var started = Stopwatch.GetTimestamp();

        var resolve = () => new DnsClientResolver().ResolveAddressesAsync(Query(server, Nodes), CancellationToken.None).WaitAsync(Timeout);

        (await resolve.Should().ThrowAsync<ClusterException>()).Which.Message.Should().Contain("no answer");
        Stopwatch.GetElapsedTime(started).Should().BeLessThan(TimeSpan.FromSeconds(5), "one query waits at most its timeout, twice");
    }

    [DnsmasqFact]
    public async Task ResolveAddressesAsync_RecordsRewrittenAndReloaded_ReturnsTheNewOnes()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Host(Nodes, "127.0.0.2"));
        var resolver = new DnsClientResolver();
        (await resolver.ResolveAddressesAsync(Query(server, Nodes), CancellationToken.None).WaitAsync(Timeout)).Records.Should().HaveCount(1);

        await server.SetRecordsAsync(new DnsRecords().Host(Nodes, "127.0.0.3").Host(Nodes, "127.0.0.4")).WaitAsync(Timeout);

        var answer = await resolver.ResolveAddressesAsync(Query(server, Nodes), CancellationToken.None).WaitAsync(Timeout);
        answer.Records.Should().BeEquivalentTo([IPAddress.Parse("127.0.0.3"), IPAddress.Parse("127.0.0.4")], "nothing is cached between polls");
    }

    [DnsmasqFact]
    public async Task ResolveServiceAsync_SrvRecords_ReturnsTargetsPortsAndAdditionalAddresses()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords()
            .Host("n1." + DnsmasqServer.Domain, "127.0.0.1")
            .Host("n2." + DnsmasqServer.Domain, "127.0.0.5")
            .Srv(Service, "n1." + DnsmasqServer.Domain, 7001)
            .Srv(Service, "n2." + DnsmasqServer.Domain, 7002)
            .Srv(Service, "unknown." + DnsmasqServer.Domain, 7003));

        var answer = await new DnsClientResolver().ResolveServiceAsync(Query(server, Service), CancellationToken.None).WaitAsync(Timeout);

        answer.NameExists.Should().BeTrue();
        answer.Records.Select(r => (r.Target, r.Port, Addresses: string.Join(",", r.Addresses)))
            .Should().BeEquivalentTo(
            [
                ("n1." + DnsmasqServer.Domain, 7001, "127.0.0.1"),
                ("n2." + DnsmasqServer.Domain, 7002, "127.0.0.5"),
                ("unknown." + DnsmasqServer.Domain, 7003, string.Empty),
            ], "targets lose their trailing dot; addresses come from the additional section where the server gives them");
    }

    [DnsmasqFact]
    public async Task ResolveServiceAsync_UnknownService_ReturnsNameNotFound()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Srv(Service, "n1." + DnsmasqServer.Domain, 7001));

        var answer = await new DnsClientResolver().ResolveServiceAsync(Query(server, "_other._tcp." + DnsmasqServer.Domain), CancellationToken.None).WaitAsync(Timeout);

        answer.NameExists.Should().BeFalse();
    }

    [DnsmasqFact]
    public async Task SetRecordsAsync_SrvChanged_RestartsOnTheSamePortWithTheNewRecords()
    {
        await using var server = await DnsmasqServer.StartAsync(new DnsRecords().Srv(Service, "n1." + DnsmasqServer.Domain, 7001));
        var port = server.Port;

        await server.SetRecordsAsync(new DnsRecords().Srv(Service, "n2." + DnsmasqServer.Domain, 7002)).WaitAsync(Timeout);

        server.Port.Should().Be(port);
        var answer = await new DnsClientResolver().ResolveServiceAsync(Query(server, Service), CancellationToken.None).WaitAsync(Timeout);
        answer.Records.Select(r => (r.Target, r.Port)).Should().Equal(("n2." + DnsmasqServer.Domain, 7002));
    }
}
