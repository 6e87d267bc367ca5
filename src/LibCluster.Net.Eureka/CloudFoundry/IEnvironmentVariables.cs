namespace LibCluster.Eureka.CloudFoundry;

/// <summary>
/// Reads environment variables. The strategy reads Cloud Foundry's variables (<c>VCAP_SERVICES</c>,
/// <c>VCAP_APPLICATION</c>, <c>CF_INSTANCE_*</c>) only through this seam, so tests can give it a fake environment
/// without touching the process's.
/// </summary>
internal interface IEnvironmentVariables
{
    /// <summary>The variable's value, or null when it is not set.</summary>
    string? Get(string name);
}

/// <summary>The process's environment.</summary>
internal sealed class ProcessEnvironmentVariables : IEnvironmentVariables
{
    public static readonly ProcessEnvironmentVariables Instance = new();

    private ProcessEnvironmentVariables()
    {
    }

    public string? Get(string name) => Environment.GetEnvironmentVariable(name);
}
