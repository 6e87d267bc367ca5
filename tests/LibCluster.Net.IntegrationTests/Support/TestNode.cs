using System.Net;
using LibCluster.Diagnostics;
using LibCluster.Mesh;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LibCluster.IntegrationTests.Support;

/// <summary>A real node on a loopback port chosen by the OS: connection manager, mailboxes and cluster API, no hosting.</summary>
internal sealed class TestNode : IAsyncDisposable
{
    public const string Cookie = "integration-test-cookie-0123456789abcdef";

    private static readonly IServiceProvider s_metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private TestNode(ConnectionManager manager, MailboxRegistry mailboxes, Cluster cluster)
    {
        Manager = manager;
        Mailboxes = mailboxes;
        Cluster = cluster;
    }

    public ConnectionManager Manager { get; }

    public MailboxRegistry Mailboxes { get; }

    public Cluster Cluster { get; }

    public NodeName Name => Manager.Self;

    public NodeAddress Address => new(Name, "127.0.0.1", Manager.ListenEndPoint!.Port);

    public static TestNode Start(string basename, string cookie = Cookie, TimeSpan? tickTime = null, ILoggerFactory? loggers = null, uint? creation = null, int port = 0, int maxPendingHandshakes = 64, TimeSpan? handshakeTimeout = null, LibCluster.Mesh.Transport.MeshTls? tls = null, IReadOnlyList<string>? acceptedCookies = null)
    {
        loggers ??= NullLoggerFactory.Instance;
        var settings = new MeshSettings
        {
            Name = NodeName.Parse($"{basename}@127.0.0.1"),
            Cookie = cookie,
            AcceptedCookies = acceptedCookies ?? [],
            ListenAddress = IPAddress.Loopback,
            Port = port,
            TickTime = tickTime ?? TimeSpan.FromSeconds(15),
            MaxPendingHandshakes = maxPendingHandshakes,
            HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(5),
            Creation = creation ?? NodeCreation.NewCreation(),
            Tls = tls,
        };
        var manager = new ConnectionManager(settings, TimeProvider.System, new ClusterMetrics(s_metrics.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>()), loggers.CreateLogger<ConnectionManager>());
        var mailboxes = new MailboxRegistry(settings.Name, loggers.CreateLogger<MailboxRegistry>());
        manager.Start(mailboxes);
        return new TestNode(manager, mailboxes, new Cluster(manager, mailboxes, TimeProvider.System));
    }

    public async ValueTask DisposeAsync()
    {
        await Manager.DisposeAsync();
        await Mailboxes.DisposeAsync();
    }
}
