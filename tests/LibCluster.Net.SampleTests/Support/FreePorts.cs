namespace LibCluster.SampleTests.Support;

/// <summary>This assembly's ports (15000-19999; see <see cref="PortRange"/> for why each assembly has its own).</summary>
internal static class FreePorts
{
    private static readonly PortRange s_range = new(15000, 20000);

    /// <summary>Distinct ports free a moment ago on 127.0.0.1 (TCP and UDP), never handed out before in this process.</summary>
    public static int[] Take(int count) => [.. Enumerable.Range(0, count).Select(_ => s_range.Take())];
}
