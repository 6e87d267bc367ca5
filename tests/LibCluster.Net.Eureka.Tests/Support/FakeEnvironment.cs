using LibCluster.Eureka.CloudFoundry;

namespace LibCluster.Eureka.Tests.Support;

/// <summary>A hand-written fake of the environment seam: the variables a test gives, nothing from the process.</summary>
internal sealed class FakeEnvironment(IReadOnlyDictionary<string, string>? variables = null) : IEnvironmentVariables
{
    public static readonly FakeEnvironment Empty = new();

    private readonly IReadOnlyDictionary<string, string> _variables = variables ?? new Dictionary<string, string>();

    public string? Get(string name) => _variables.TryGetValue(name, out var value) ? value : null;
}
