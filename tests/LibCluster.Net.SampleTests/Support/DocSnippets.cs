namespace LibCluster.SampleTests.Support;

/// <summary>
/// The code blocks a document marks for testing: the fenced block right after a line
/// <c>&lt;!-- {marker}: {name} --&gt;</c>, so that what the reader copies is what the test runs.
/// </summary>
internal static class DocSnippets
{
    public static string Get(string document, string marker, string name)
    {
        var path = Repository.File("docs", document);
        var lines = File.ReadAllLines(path);
        var start = Array.FindIndex(lines, l => l.Trim() == $"<!-- {marker}: {name} -->");
        if (start < 0 || start + 1 >= lines.Length || !lines[start + 1].StartsWith("```", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"docs/{document} has no fenced block right after <!-- {marker}: {name} -->.");
        }

        var end = Array.FindIndex(lines, start + 2, l => l.StartsWith("```", StringComparison.Ordinal));
        if (end < 0)
        {
            throw new InvalidOperationException($"docs/{document}: the block after <!-- {marker}: {name} --> is not closed.");
        }

        return string.Join('\n', lines[(start + 2)..end]) + "\n";
    }
}
