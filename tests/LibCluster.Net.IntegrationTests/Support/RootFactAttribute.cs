namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A test that needs Linux network namespaces: it runs as root on Linux with the <c>ip</c> command (iproute2), as CI
/// does, and is skipped with the reason everywhere else.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (NetworkNamespace.WhyUnavailable() is { } reason)
        {
            Skip = reason;
        }
    }
}
