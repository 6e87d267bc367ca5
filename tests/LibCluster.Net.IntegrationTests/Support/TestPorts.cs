namespace LibCluster.IntegrationTests.Support;

/// <summary>This assembly's ports (20000-29999; see <see cref="PortRange"/> for why each assembly has its own).</summary>
internal static class TestPorts
{
    private static readonly PortRange s_range = new(20000, 30000);

    /// <summary>A port free a moment ago on 127.0.0.1 for TCP and for UDP, never handed out before in this process.</summary>
    public static int Take() => s_range.Take();
}
