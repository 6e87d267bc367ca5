using LibCluster.Messaging;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace LibCluster.Hosting;

/// <summary>Healthy once at least the given number of other nodes are connected: a readiness gate.</summary>
internal sealed class LibClusterHealthCheck(ICluster cluster, int minNodes) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var connected = cluster.ConnectedNodes.Count;
        var data = new Dictionary<string, object> { ["node"] = cluster.Self.Value, ["connected_nodes"] = connected, ["min_nodes"] = minNodes };
        return Task.FromResult(connected >= minNodes
            ? HealthCheckResult.Healthy($"{connected} nodes connected (at least {minNodes} wanted).", data)
            : HealthCheckResult.Unhealthy($"{connected} nodes connected; waiting for at least {minNodes}.", data: data));
    }
}
