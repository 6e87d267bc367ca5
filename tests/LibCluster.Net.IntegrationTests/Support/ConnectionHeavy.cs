namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// Tests that open hundreds of loopback connections at once (full meshes, connect storms). They run on their own,
/// after the parallel collections: every dial takes an ephemeral port, and tests that reserve a port by binding port 0,
/// releasing it and binding it again later (<c>NodeProcess.FreePort</c>) would otherwise lose it to one of these dials.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConnectionHeavy
{
    public const string Name = "Connection heavy";
}
