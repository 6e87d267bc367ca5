using System.Net;
using System.Net.Sockets;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace LibCluster.IntegrationTests.Hosting;

/// <summary>Whole hosts built with AddLibCluster and the Static strategy, as an application would, in one process.</summary>
public sealed class StaticClusterTests
{
    private static IHost BuildHost(string name, int port, IEnumerable<string> nodes, string cookie = TestNode.Cookie)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = name,
            ["LibCluster:Node:Cookie"] = cookie,
            ["LibCluster:Node:ListenAddress"] = "127.0.0.1",
            ["LibCluster:Node:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["LibCluster:Topologies:fixed:Strategy"] = "Static",
        };
        var i = 0;
        foreach (var node in nodes)
        {
            settings[$"LibCluster:Topologies:fixed:Config:Nodes:{i++}"] = node;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"));
        return builder.Build();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(20)]
    public async Task StaticStrategy_NNodes_FormFullMesh(int count)
    {
        var layout = Enumerable.Range(0, count).Select(i => (Name: $"n{i}@127.0.0.1", Port: NodeProcess.FreePort())).ToList();
        var entries = layout.Select(n => $"{n.Name}:{n.Port}").ToList();
        var hosts = layout.Select(n => BuildHost(n.Name, n.Port, entries)).ToList();
        try
        {
            await Task.WhenAll(hosts.Select(h => h.StartAsync())).WaitAsync(TimeSpan.FromSeconds(30));
            var clusters = hosts.Select(h => h.Services.GetRequiredService<ICluster>()).ToList();

            await Task.WhenAll(clusters.Select(c => c.WaitForNodesAsync(count - 1))).WaitAsync(TimeSpan.FromSeconds(60));

            foreach (var cluster in clusters)
            {
                cluster.ConnectedNodes.Select(n => n.Value).Should().BeEquivalentTo(layout.Select(n => n.Name).Where(n => n != cluster.Self.Value));
            }
        }
        finally
        {
            await Task.WhenAll(hosts.Select(h => h.StopAsync())).WaitAsync(TimeSpan.FromSeconds(30));
            hosts.ForEach(h => h.Dispose());
        }
    }

    [Fact]
    public async Task StartAsync_PortInUse_FailsWithTheConfigKey()
    {
        using var squatter = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        squatter.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        squatter.Listen();
        var port = ((IPEndPoint)squatter.LocalEndPoint!).Port;
        using var host = BuildHost("a@127.0.0.1", port, ["a@127.0.0.1"]);

        var start = async () => await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(10));

        (await start.Should().ThrowAsync<ClusterException>()).Which.Message.Should().Contain("LibCluster:Node:Port").And.Contain(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task WrongCookieNode_NeverJoins_AndTheOthersStayConnected()
    {
        var layout = Enumerable.Range(0, 3).Select(i => (Name: $"w{i}@127.0.0.1", Port: NodeProcess.FreePort())).ToList();
        var entries = layout.Select(n => $"{n.Name}:{n.Port}").ToList();
        long badCookies = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "LibCluster.Net" && instrument.Name == "libcluster.handshake.failures")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "reason" && (string?)tag.Value == "bad_cookie")
                {
                    Interlocked.Add(ref badCookies, value);
                }
            }
        });
        listener.Start();
        var hosts = layout.Select((n, i) => BuildHost(n.Name, n.Port, entries, i == 2 ? "a-different-cookie-that-is-long-enough-0123" : TestNode.Cookie)).ToList();
        try
        {
            await Task.WhenAll(hosts.Select(h => h.StartAsync())).WaitAsync(TimeSpan.FromSeconds(30));
            var clusters = hosts.Select(h => h.Services.GetRequiredService<ICluster>()).ToList();
            await Task.WhenAll(clusters.Take(2).Select(c => c.WaitForNodesAsync(1))).WaitAsync(TimeSpan.FromSeconds(30));

            // Wait until the intruder has been turned away several times; it must still be alone, and the pair intact.
            await Eventually.TrueAsync(() => Interlocked.Read(ref badCookies) >= 4, TimeSpan.FromSeconds(30), "the intruder's dials have been rejected a few times");

            clusters[2].ConnectedNodes.Should().BeEmpty();
            clusters[0].ConnectedNodes.Select(n => n.Value).Should().Equal(layout[1].Name);
            clusters[1].ConnectedNodes.Select(n => n.Value).Should().Equal(layout[0].Name);
        }
        finally
        {
            await Task.WhenAll(hosts.Select(h => h.StopAsync())).WaitAsync(TimeSpan.FromSeconds(30));
            hosts.ForEach(h => h.Dispose());
        }
    }
}
