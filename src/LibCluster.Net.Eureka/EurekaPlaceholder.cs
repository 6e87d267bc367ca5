namespace LibCluster.Eureka;

/// <summary>Marks the package until the Eureka strategy lands.</summary>
internal static class EurekaPlaceholder;
