using System.Text.RegularExpressions;
using LibCluster.Mesh;

namespace LibCluster.Tests.Fuzz;

/// <summary>An input broke a rule of the fuzz harness: the message says which, and carries the input in hex.</summary>
internal sealed class FuzzFailure(string message) : Exception(message);

/// <summary>
/// One parser (or one side of the handshake) fed with hostile bytes. <see cref="Run"/> enforces the rules every input must
/// obey, whatever it is:
/// <list type="bullet">
/// <item>nothing is thrown but the protocol's own <see cref="MeshProtocolException"/>, with one of the target's known reasons;</item>
/// <item>the run ends on its own: the input is finite and the target completes synchronously once it has seen all of it
/// (a run that has not finished within <see cref="RunTimeout"/> is a hang);</item>
/// <item>each parse allocates no more than <see cref="AllocationBudget"/> bytes on the calling thread
/// (<see cref="GC.GetAllocatedBytesForCurrentThread"/> around the parse only, not around the test's own set-up);</item>
/// <item>whatever the target checks besides (a handshake never authenticates a stranger, a frame never exceeds the cap...).</item>
/// </list>
/// The result is a <em>signature</em>: a short, low-cardinality description of what the input made the code do (which
/// error, which stage). The campaign keeps every input that shows a signature not seen before, which is how the corpus
/// grows without an instrumented build.
/// </summary>
internal abstract partial class FuzzTarget
{
    /// <summary>A run that has not finished after this long hangs.</summary>
    public static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The name of the target's corpus folder.</summary>
    public abstract string Name { get; }

    /// <summary>Longer inputs are cut by the mutator; the parsers refuse long before this anyway.</summary>
    public virtual int MaxInputBytes => 4096;

    /// <summary>The most a parse of any input may allocate on the calling thread.</summary>
    public abstract long AllocationBudget { get; }

    /// <summary>The <see cref="MeshProtocolException.Reason"/>s this target may throw.</summary>
    protected abstract IReadOnlySet<string> AllowedReasons { get; }

    /// <summary>Hand-made starting points: valid messages and classic hostile ones. Always replayed, like the corpus.</summary>
    public abstract IEnumerable<byte[]> Seeds();

    /// <summary>
    /// Runs one input; throws <see cref="FuzzFailure"/> when a rule is broken. Without <paramref name="enforceBudget"/> the
    /// allocation is measured but not held against the budget (warm-up runs).
    /// </summary>
    public FuzzResult Run(byte[] input, bool enforceBudget = true)
    {
        var meter = new AllocationMeter();
        string signature;
        try
        {
            signature = Execute(input, meter);
        }
        catch (FuzzFailure)
        {
            throw;
        }
        catch (MeshProtocolException ex) when (AllowedReasons.Contains(ex.Reason))
        {
            // The parse is over: what the harness does from here on is not the parser's allocation.
            meter.Stop();
            signature = $"{ex.Reason}: {Shape(ex.Message)}{meter.Stage}";
        }
        catch (MeshProtocolException ex)
        {
            throw new FuzzFailure($"{Name}: unexpected reason '{ex.Reason}' ({ex.Message}) for input {Hex(input)}");
        }
        catch (Exception ex)
        {
            throw new FuzzFailure($"{Name}: {ex.GetType().Name} ({ex.Message}) for input {Hex(input)}{Environment.NewLine}{ex}");
        }

        if (enforceBudget && meter.Allocated > AllocationBudget)
        {
            // A parse allocates the same every time; the runtime's one-time work on this thread (a method compiled at a
            // higher tier, a type loaded) does not come back. Only what repeats counts.
            var again = Math.Min(Remeasure(input), Remeasure(input));
            if (again > AllocationBudget)
            {
                throw new FuzzFailure($"{Name}: the parse allocated {again} bytes, over the budget of {AllocationBudget}, for input {Hex(input)}");
            }

            return new FuzzResult(signature, again);
        }

        return new FuzzResult(signature, meter.Allocated);
    }

    private long Remeasure(byte[] input)
    {
        var meter = new AllocationMeter();
        try
        {
            Execute(input, meter);
        }
        catch (MeshProtocolException)
        {
            meter.Stop();
        }

        return meter.Allocated;
    }

    /// <summary>
    /// Runs the target on <paramref name="input"/>; measures the parse with <paramref name="meter"/> and returns the
    /// signature of a run that threw nothing. <see cref="AllocationMeter.Stage"/> is appended to the signature of one that
    /// threw.
    /// </summary>
    protected abstract string Execute(byte[] input, AllocationMeter meter);

    /// <summary>
    /// A protocol message with the variable parts (a node name the peer sent, names, numbers) taken out, so that inputs
    /// that fail the same check get the same signature.
    /// </summary>
    public static string Shape(string message)
    {
        // NodeName's errors quote the peer's bytes, which may hold quotes themselves: cut from the opening quote to the
        // last of the fixed endings.
        const string opening = "The node name '";
        var start = message.IndexOf(opening, StringComparison.Ordinal);
        if (start >= 0)
        {
            var from = start + opening.Length;
            var end = NameErrorEndings.Select(e => message.LastIndexOf(e, StringComparison.Ordinal)).Where(i => i >= from).DefaultIfEmpty(-1).Max();
            if (end >= 0)
            {
                message = string.Concat(message.AsSpan(0, from), message.AsSpan(end));
            }

            message = OffendingCharacter().Replace(message, "has '' in its $1");
        }

        var shaped = NodeNameLike().Replace(message, "<name>");
        return Digits().Replace(shaped, "#");
    }

    private static readonly string[] NameErrorEndings = ["' is longer than", "' is not of the form", "' has '", "' does not end in"];

    public static string Hex(byte[] input) => input.Length <= 2048 ? Convert.ToHexString(input) : Convert.ToHexString(input, 0, 2048) + $"... ({input.Length} bytes)";

    /// <summary>A deterministic 64-bit hash (FNV-1a) of the input: it picks how a run cuts the input into pieces.</summary>
    public static ulong HashOf(ReadOnlySpan<byte> input)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in input)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }

    [GeneratedRegex("has '.+?' in its (basename|host)", RegexOptions.Singleline)]
    private static partial Regex OffendingCharacter();

    [GeneratedRegex(@"\S*@\S*")]
    private static partial Regex NodeNameLike();

    [GeneratedRegex(@"\d+")]
    private static partial Regex Digits();
}

/// <summary>What one run did: its signature and what its parse allocated.</summary>
internal readonly record struct FuzzResult(string Signature, long Allocated);

/// <summary>
/// Measures what each parse of a run allocates on the calling thread and keeps the most (a target may parse the same
/// input more than once: under two caps, whole and in pieces).
/// </summary>
internal sealed class AllocationMeter
{
    private long _started = -1;

    /// <summary>The most one measured parse allocated.</summary>
    public long Allocated { get; private set; }

    /// <summary>How far a run got before it threw (for the signature), for example <c> | wrote 2 frames</c>.</summary>
    public string Stage { get; set; } = string.Empty;

    public void Start() => _started = GC.GetAllocatedBytesForCurrentThread();

    public void Stop()
    {
        if (_started >= 0)
        {
            Allocated = Math.Max(Allocated, GC.GetAllocatedBytesForCurrentThread() - _started);
            _started = -1;
        }
    }
}
