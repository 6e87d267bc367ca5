using LibCluster.Hosting;
using LibCluster.Messaging;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the LibCluster.Net readiness check.</summary>
public static class LibClusterHealthCheckBuilderExtensions
{
    /// <summary>
    /// Adds a health check that is healthy once at least <paramref name="minNodes"/> other nodes are connected
    /// (tagged <c>ready</c>), for readiness probes and load balancers.
    /// </summary>
    public static IHealthChecksBuilder AddLibClusterHealthCheck(this IHealthChecksBuilder builder, int minNodes = 0, string name = "libcluster")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(minNodes);
        return builder.Add(new HealthCheckRegistration(
            name,
            sp => new LibClusterHealthCheck(sp.GetRequiredService<ICluster>(), minNodes),
            failureStatus: HealthStatus.Unhealthy,
            tags: ["ready"]));
    }
}
