using LibCluster.Diagnostics;
using LibCluster.Mesh;
using LibCluster.Messaging;
using LibCluster.Topology;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LibCluster.Hosting;

/// <summary>
/// Starts the node with the host: binds the listener in <see cref="StartAsync"/> (so a port conflict fails
/// start), then runs the topologies. On stop it says goodbye to every peer, so they see the node leave at once.
/// </summary>
internal sealed partial class LibClusterHostedService(
    IOptions<LibClusterOptions> options,
    IEnumerable<StrategyRegistration> strategies,
    ConnectionManager connections,
    MailboxRegistry mailboxes,
    IServiceProvider services,
    TimeProvider time,
    ClusterMetrics metrics,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    private readonly ILogger _logger = loggers.CreateLogger<LibClusterHostedService>();
    private readonly List<ITopologyStrategy> _strategies = [];
    private TopologyRuntime? _runtime;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var value = options.Value;
        var catalog = strategies.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
        var topologies = new List<(string Name, ITopologyStrategy Strategy)>();
        foreach (var (name, topology) in value.Topologies)
        {
            if (topology.Enabled)
            {
                var strategy = catalog[topology.Strategy!].Create(services, topology);
                _strategies.Add(strategy);
                topologies.Add((name, strategy));
            }
        }

        connections.Start(mailboxes);
        LogStarted(_logger, connections.Self, connections.ListenEndPoint!.Port, topologies.Count);
        _runtime = new TopologyRuntime(
            topologies,
            new MeshNodeConnector(connections),
            new TopologyRuntimeOptions { DefaultPort = value.Node.Port == 0 ? connections.ListenEndPoint.Port : value.Node.Port, Creation = connections.Creation },
            time,
            loggers,
            metrics);
        _runtime.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stoppedByHost = true;

        // Stop dialling, then say GOODBYE at once: peers see this node leave without waiting for the strategies
        // (a Eureka deregistration, say) to wind down.
        var runtimeStopping = _runtime?.DisposeAsync().AsTask() ?? Task.CompletedTask;
        await connections.DisposeAsync().ConfigureAwait(false);

        // A strategy or a handler that ignores cancellation must not hold up shutdown past the host's deadline;
        // nor the container's disposal after it, which is why the runtime is not waited for again below.
        await EndsWithinAsync(runtimeStopping, cancellationToken).ConfigureAwait(false);
        await DisposeCoreAsync(cancellationToken).ConfigureAwait(false);
    }

    private bool _stoppedByHost;

    public async ValueTask DisposeAsync()
    {
        if (!_stoppedByHost && _runtime is not null)
        {
            await _runtime.DisposeAsync().ConfigureAwait(false);
        }

        await DisposeCoreAsync(CancellationToken.None).ConfigureAwait(false);
    }

    private async Task DisposeCoreAsync(CancellationToken deadline)
    {
        foreach (var strategy in _strategies)
        {
            switch (strategy)
            {
                case IAsyncDisposable asyncDisposable:
                    await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                    break;
                case IDisposable disposable:
                    disposable.Dispose();
                    break;
            }
        }

        _strategies.Clear();

        await connections.DisposeAsync().ConfigureAwait(false);
        await EndsWithinAsync(mailboxes.DisposeAsync().AsTask(), deadline).ConfigureAwait(false);
    }

    private static async Task EndsWithinAsync(Task task, CancellationToken deadline)
    {
        try
        {
            await task.WaitAsync(deadline).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            // Left to finish in the background; the host has stopped waiting.
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "LibCluster node {NodeName} started on port {Port} with {TopologyCount} topologies")]
    private static partial void LogStarted(ILogger logger, LibCluster.Nodes.NodeName nodeName, int port, int topologyCount);
}
