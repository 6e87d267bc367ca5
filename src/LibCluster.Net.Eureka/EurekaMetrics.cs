using System.Diagnostics.Metrics;

namespace LibCluster.Eureka;

/// <summary>
/// The Eureka strategy's instruments, on the library's one meter (<c>LibCluster.Net</c>). Failed polls are also counted
/// by the core as <c>libcluster.discovery.errors</c>; these add what only this strategy knows. Tags are low-cardinality:
/// topology, operation, reason.
/// </summary>
internal sealed class EurekaMetrics
{
    public const string MeterName = "LibCluster.Net";

    private readonly Counter<long> _failures;
    private readonly Counter<long> _registrations;

    /// <param name="meterFactory">The host's meter factory; without one the meter is created directly.</param>
    public EurekaMetrics(IMeterFactory? meterFactory)
    {
        var meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _failures = meter.CreateCounter<long>(
            "libcluster.eureka.failures",
            "{failure}",
            "Failed requests to the Eureka registry or its token endpoint, by topology, operation (register, renew, deregister, fetch) and reason (unreachable, unavailable, unauthorized, bad_response).");
        _registrations = meter.CreateCounter<long>(
            "libcluster.eureka.registrations",
            "{registration}",
            "Registrations of this node in the Eureka registry, by topology and reason (start, lost: the registry did not know the node any more).");
    }

    public void Failure(string topology, string operation, string reason) =>
        _failures.Add(
            1,
            new KeyValuePair<string, object?>("topology", topology),
            new KeyValuePair<string, object?>("operation", operation),
            new KeyValuePair<string, object?>("reason", reason));

    public void Registered(string topology, string reason) =>
        _registrations.Add(
            1,
            new KeyValuePair<string, object?>("topology", topology),
            new KeyValuePair<string, object?>("reason", reason));
}
