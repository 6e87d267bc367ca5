using System.Runtime.CompilerServices;
using LibCluster.Eureka.CloudFoundry;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Eureka;

/// <summary>
/// The <c>Eureka</c> strategy: registers this node in a Netflix Eureka registry (Spring Cloud Services' service
/// registry on Cloud Foundry) with its node name and dist port in the metadata, keeps the registration alive, and
/// wants every other UP instance of the same application that carries a node name.
/// </summary>
/// <remarks>
/// Each enumeration of <see cref="WatchAsync"/> is one run: it works out the settings, starts the registration loop
/// (owned by the enumeration and cancelled with it), waits for the first registration attempt, then polls through
/// <see cref="EurekaPoller"/> (the core's <see cref="PollingTopologyStrategy"/>). When the enumeration ends by
/// cancellation (the host stops) or the consumer stops it, the registration is deleted within
/// <see cref="EurekaStrategyOptions.DeregistrationTimeout"/>. When it ends by a failure it is not: the runtime starts
/// it again and the next run registers the same instance id.
/// </remarks>
internal sealed class EurekaStrategy : ITopologyStrategy
{
    private readonly EurekaStrategyOptions _options;
    private readonly IHttpClientFactory _httpClients;
    private readonly IEnvironmentVariables _environment;
    private readonly EurekaMetrics _metrics;

    public EurekaStrategy(EurekaStrategyOptions options, IHttpClientFactory httpClients, IEnvironmentVariables environment, EurekaMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(httpClients);
        ArgumentNullException.ThrowIfNull(environment);
        ArgumentNullException.ThrowIfNull(metrics);
        _options = options;
        _httpClients = httpClients;
        _environment = environment;
        _metrics = metrics;
    }

    public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(TopologyContext context, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = await EurekaSettings.ResolveAsync(
            _options,
            _environment,
            $"LibCluster:Topologies:{context.TopologyName}:Config",
            context.Self,
            context.DefaultPort,
            cancellationToken).ConfigureAwait(false);

        EurekaLog.Starting(context.Logger, context.TopologyName, context.Self, settings.DistPort, settings.ServiceUrl, settings.Source, settings.AppName, settings.InstanceId);
        if (settings.BindingName is { } binding && settings.IgnoredBindings.Count > 0)
        {
            EurekaLog.SeveralBindings(context.Logger, context.TopologyName, string.Join(", ", settings.IgnoredBindings.Prepend(binding)), binding);
        }

        var http = _httpClients.CreateClient(EurekaHttp.ClientName);
        using var tokens = settings.OAuth is { } oauth ? new OAuthTokenProvider(http, oauth, context.TimeProvider) : null;
        var client = new EurekaClient(http, settings, tokens);
        var registrar = new EurekaRegistrar(client, settings, context, _metrics);
        var poller = new EurekaPoller(client, settings, registrar, _metrics);

        using var stopRegistration = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var firstAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registration = registrar.RunAsync(firstAttempt, stopRegistration.Token);
        var stoppedByConsumer = false;
        try
        {
            // Register before the first poll, so that the first answer can list this node; a failed attempt does not wait longer.
            await firstAttempt.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            await foreach (var nodes in poller.WatchAsync(context, cancellationToken).ConfigureAwait(false))
            {
                // If the consumer disposes the enumeration here, the code after the yield never runs: that is a stop too.
                stoppedByConsumer = true;
                yield return nodes;
                stoppedByConsumer = false;
            }
        }
        finally
        {
            await stopRegistration.CancelAsync().ConfigureAwait(false);
            await registration.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (cancellationToken.IsCancellationRequested || stoppedByConsumer)
            {
                await registrar.DeregisterAsync().ConfigureAwait(false);
            }
        }
    }
}
