namespace LibCluster.Tests.Fuzz;

/// <summary>Every fuzz target, by corpus name.</summary>
internal static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new FrameTarget(),
        new MessageTarget(),
        new AcceptorTarget(),
        new InitiatorTarget(),
        new GossipTarget(),
    ];

    public static TheoryData<string> Names => [.. All.Select(t => t.Name)];

    public static FuzzTarget Get(string name) => All.Single(t => t.Name == name);

    /// <summary>The seeds and the stored corpus of a target.</summary>
    public static IReadOnlyList<byte[]> Pool(FuzzTarget target) =>
        [.. target.Seeds(), .. FuzzCorpus.Load(target.Name).Select(c => c.Input)];

    /// <summary>
    /// Runs every seed once without counting allocations: the first run of a code path pays for one-time work (type
    /// initialisers, the crypto provider) that is not the parser's.
    /// </summary>
    public static void WarmUp(FuzzTarget target)
    {
        foreach (var seed in target.Seeds())
        {
            target.Run(seed, enforceBudget: false);
        }
    }
}
