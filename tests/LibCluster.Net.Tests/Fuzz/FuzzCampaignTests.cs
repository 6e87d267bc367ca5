using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace LibCluster.Tests.Fuzz;

/// <summary>Runs only when <c>LIBCLUSTER_FUZZ_SECONDS</c> is set: the long fuzz campaign is opt-in, CI replays its corpus.</summary>
public sealed class FuzzCampaignFactAttribute : FactAttribute
{
    public const string BudgetVariable = "LIBCLUSTER_FUZZ_SECONDS";

    public FuzzCampaignFactAttribute()
    {
        if (!int.TryParse(Environment.GetEnvironmentVariable(BudgetVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
        {
            Skip = $"set {BudgetVariable} to a number of seconds to run the fuzz campaign";
        }
    }
}

/// <summary>
/// The fuzz campaign: for <c>LIBCLUSTER_FUZZ_SECONDS</c> seconds in all (shared evenly by the targets), on every core,
/// mutates the seeds and the corpus (<see cref="Mutator"/>) and random bytes, runs each input through its target and
/// keeps, shrunk, every input whose signature (the error and the stage it reached) was not seen before. New inputs are
/// written to the committed corpus folder (or to <c>LIBCLUSTER_FUZZ_CORPUS</c>); inputs that break a rule go to
/// <c>LIBCLUSTER_FUZZ_OUT</c> (default: a temporary folder) and fail the test. <c>LIBCLUSTER_FUZZ_SEED</c> repeats a run.
/// </summary>
/// <example><c>LIBCLUSTER_FUZZ_SECONDS=300 dotnet test tests/LibCluster.Net.Tests --filter FullyQualifiedName~FuzzCampaign</c></example>
public sealed class FuzzCampaignTests(ITestOutputHelper output)
{
    private const int MaxFailuresKept = 20;

    [FuzzCampaignFact]
    public void Campaign_ForTheConfiguredBudget_BreaksNoRuleAndStoresNewInputs()
    {
        var budget = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable(FuzzCampaignFactAttribute.BudgetVariable)!, CultureInfo.InvariantCulture));
        var seed = int.TryParse(Environment.GetEnvironmentVariable("LIBCLUSTER_FUZZ_SEED"), CultureInfo.InvariantCulture, out var fixedSeed) ? fixedSeed : Environment.TickCount;
        var corpusFolder = Environment.GetEnvironmentVariable("LIBCLUSTER_FUZZ_CORPUS");
        var outFolder = Environment.GetEnvironmentVariable("LIBCLUSTER_FUZZ_OUT") is { Length: > 0 } o ? o : Path.Combine(Path.GetTempPath(), "libcluster-fuzz");
        var perTarget = budget / FuzzTargets.All.Count;
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"fuzz campaign: {budget.TotalSeconds:0} s, seed {seed}, {Environment.ProcessorCount} threads, corpus {corpusFolder ?? FuzzCorpus.Root}");
        var failures = new List<string>();

        foreach (var target in FuzzTargets.All)
        {
            var summary = Fuzz(target, perTarget, seed, corpusFolder is null ? null : Path.Combine(corpusFolder, target.Name), Path.Combine(outFolder, "failures", target.Name), failures);
            report.AppendLine(summary);
        }

        Directory.CreateDirectory(outFolder);
        File.WriteAllText(Path.Combine(outFolder, "summary.txt"), report.ToString());
        output.WriteLine(report.ToString());
        failures.Should().BeEmpty();
    }

    private static string Fuzz(FuzzTarget target, TimeSpan budget, int seed, string? corpusFolder, string failureFolder, List<string> failures)
    {
        FuzzTargets.WarmUp(target);
        var gate = new Lock();
        var pool = new List<byte[]>(FuzzTargets.Pool(target));
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in pool)
        {
            known.Add(target.Run(input).Signature);
        }

        // The seeds belong in the corpus too: the live-node tests, which cannot see them, replay the corpus folder.
        foreach (var start in target.Seeds())
        {
            FuzzCorpus.Save(target.Name, start, corpusFolder);
        }

        var signaturesBefore = known.Count;
        long runs = 0, maxAllocated = 0;
        var added = 0;
        var clock = Stopwatch.StartNew();

        Parallel.For(0, Environment.ProcessorCount, worker =>
        {
            var random = new Random(seed + (worker * 7919) + target.Name.GetHashCode(StringComparison.Ordinal));
            while (clock.Elapsed < budget)
            {
                byte[] input;
                lock (gate)
                {
                    if (failures.Count >= MaxFailuresKept)
                    {
                        return;
                    }

                    input = random.Next(10) == 0
                        ? RandomBytes(random, target.MaxInputBytes)
                        : Mutator.Mutate(pool[random.Next(pool.Count)], pool[random.Next(pool.Count)], random, target.MaxInputBytes);
                }

                FuzzResult result;
                try
                {
                    result = target.Run(input);
                }
                catch (FuzzFailure failure)
                {
                    lock (gate)
                    {
                        failures.Add(failure.Message);
                        FuzzCorpus.Save(target.Name, input, failureFolder);
                    }

                    continue;
                }

                Interlocked.Increment(ref runs);
                InterlockedMax(ref maxAllocated, result.Allocated);
                bool isNew;
                lock (gate)
                {
                    isNew = known.Add(result.Signature);
                }

                if (isNew)
                {
                    var shrunk = Shrink(target, input, result.Signature);
                    lock (gate)
                    {
                        pool.Add(shrunk);
                        added++;
                        FuzzCorpus.Save(target.Name, shrunk, corpusFolder);
                    }
                }
            }
        });

        var seconds = clock.Elapsed.TotalSeconds;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"{target.Name,-10} {runs,10:N0} runs in {seconds,5:0} s ({runs / seconds,8:N0}/s); signatures {signaturesBefore} -> {known.Count}; {added} inputs added; most allocated by one parse {maxAllocated:N0} B (budget {target.AllocationBudget:N0} B)");
    }

    /// <summary>Makes an input smaller while it keeps its signature: drops chunks, halving their size down to single bytes.</summary>
    private static byte[] Shrink(FuzzTarget target, byte[] input, string signature)
    {
        var current = input;
        for (var chunk = Math.Max(1, current.Length / 2); chunk >= 1; chunk /= 2)
        {
            for (var at = 0; at + chunk <= current.Length;)
            {
                byte[] candidate = [.. current.AsSpan(0, at), .. current.AsSpan(at + chunk)];
                if (Keeps(target, candidate, signature))
                {
                    current = candidate;
                }
                else
                {
                    at += chunk;
                }
            }
        }

        return current;
    }

    private static bool Keeps(FuzzTarget target, byte[] candidate, string signature)
    {
        try
        {
            return target.Run(candidate).Signature == signature;
        }
        catch (FuzzFailure)
        {
            return false;
        }
    }

    private static byte[] RandomBytes(Random random, int maxLength)
    {
        var bytes = new byte[random.Next(Math.Min(maxLength, 1200) + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    private static void InterlockedMax(ref long location, long value)
    {
        var current = Interlocked.Read(ref location);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
