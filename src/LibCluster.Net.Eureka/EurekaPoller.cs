using System.Globalization;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Eureka;

/// <summary>
/// Polls <c>GET apps/{APP}</c> and turns the UP instances that carry a node name in their metadata into node
/// addresses. The core's polling base yields only on change, keeps the last set when a poll throws and logs that once
/// per outage; this class adds an error log for answers that make no sense (once per streak), and holds back removals
/// while the registry's view cannot be trusted (see <see cref="PollAsync"/>).
/// </summary>
internal sealed class EurekaPoller : PollingTopologyStrategy
{
    private readonly EurekaClient _client;
    private readonly EurekaSettings _settings;
    private readonly EurekaRegistrar _registrar;
    private readonly EurekaMetrics _metrics;
    private IReadOnlySet<NodeAddress>? _last;
    private bool _failureLogged;

    public EurekaPoller(EurekaClient client, EurekaSettings settings, EurekaRegistrar registrar, EurekaMetrics metrics)
    {
        _client = client;
        _settings = settings;
        _registrar = registrar;
        _metrics = metrics;
    }

    protected override TimeSpan PollingInterval => _settings.PollingInterval;

    /// <summary>
    /// Reads the application's instances. Removals are held back (the last set's nodes are kept alongside the new
    /// ones) when the answer does not list this node although it is registered — a registry that restarted, or a read
    /// cache behind the registrations — and for one lease after the registry lost this node's registration, while the
    /// other nodes register again.
    /// </summary>
    protected override async ValueTask<IReadOnlySet<NodeAddress>> PollAsync(TopologyContext context, CancellationToken cancellationToken)
    {
        var topology = context.TopologyName;
        EurekaApplications applications;
        try
        {
            applications = await _client.FetchAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EurekaException ex)
        {
            _metrics.Failure(topology, "fetch", ex.Reason);
            if (!_failureLogged && ex.Failure is EurekaFailure.BadResponse or EurekaFailure.Unauthorized)
            {
                // Unreachable registries are the base's warning; these need a person to look.
                _failureLogged = true;
                if (ex.Failure == EurekaFailure.BadResponse)
                {
                    EurekaLog.BadResponse(context.Logger, topology, "fetch", ex.Message);
                }
                else
                {
                    EurekaLog.Unauthorized(context.Logger, topology, "fetch", ex.Message);
                }
            }

            throw;
        }

        _failureLogged = false;
        foreach (var reason in applications.Skipped)
        {
            EurekaLog.EntrySkipped(context.Logger, topology, reason);
        }

        var selfListed = false;
        var chosen = new Dictionary<NodeName, (NodeAddress Address, long Updated)>();
        foreach (var instance in applications.Instances)
        {
            if (!string.Equals(instance.App, _settings.AppName, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (string.Equals(instance.InstanceId, _settings.InstanceId, StringComparison.OrdinalIgnoreCase))
            {
                selfListed = true;
                continue;
            }

            if (!instance.IsUp || !instance.Metadata.TryGetValue(EurekaDefaults.NodeMetadataKey, out var nodeText))
            {
                // Not up, or not a LibCluster node (another program registered under the same app name).
                continue;
            }

            if (!NodeName.TryParse(nodeText, out var name, out var error))
            {
                EurekaLog.InstanceIgnored(context.Logger, topology, instance.InstanceId, EurekaDefaults.NodeMetadataKey, nodeText, error);
                continue;
            }

            if (name == context.Self)
            {
                // An older registration of this very node (another instance id); never dial ourselves.
                continue;
            }

            var port = context.DefaultPort;
            if (instance.Metadata.TryGetValue(EurekaDefaults.PortMetadataKey, out var portText)
                && !(int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535))
            {
                EurekaLog.InstanceIgnored(context.Logger, topology, instance.InstanceId, EurekaDefaults.PortMetadataKey, portText, "not a TCP port");
                continue;
            }

            // One node registered twice (a restart under a new instance id while the old lease lasts): the newest wins.
            var updated = instance.LastUpdated ?? long.MinValue;
            if (!chosen.TryGetValue(name, out var existing) || updated > existing.Updated)
            {
                chosen[name] = (new NodeAddress(name, port), updated);
            }
        }

        var nodes = chosen.Values.Select(c => c.Address).ToHashSet();
        string? holdReason = null;
        if (_registrar.HoldsRemovals)
        {
            holdReason = "the registry lost the registrations lately and the other nodes may not have registered again yet";
        }
        else if (!selfListed && _registrar.IsRegistered)
        {
            holdReason = "the answer does not list this node, so it is incomplete (a restarted registry, or its read cache)";
        }

        if (holdReason is not null && _last is not null)
        {
            var kept = 0;
            foreach (var previous in _last)
            {
                if (!chosen.ContainsKey(previous.Name))
                {
                    nodes.Add(previous);
                    kept++;
                }
            }

            if (kept > 0)
            {
                EurekaLog.RemovalsHeldBack(context.Logger, topology, kept, holdReason);
            }
        }

        _last = nodes;
        return nodes;
    }
}
