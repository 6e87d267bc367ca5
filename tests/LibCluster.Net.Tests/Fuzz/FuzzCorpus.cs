using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace LibCluster.Tests.Fuzz;

/// <summary>
/// The committed corpus: <c>tests/LibCluster.Net.Tests/Fuzz/Corpus/&lt;target&gt;/&lt;hash&gt;.bin</c>, one raw input per file,
/// named by the first 16 hex digits of its SHA-256 (so the same input is never stored twice). Read from the source tree,
/// which the tests run next to (CI builds and tests in place), so no build step has to copy it.
/// </summary>
internal static class FuzzCorpus
{
    public static string Root { get; } = FindRoot();

    public static string FolderOf(string target) => Path.Combine(Root, target);

    public static IReadOnlyList<(string File, byte[] Input)> Load(string target)
    {
        var folder = FolderOf(target);
        if (!Directory.Exists(folder))
        {
            return [];
        }

        return Directory.EnumerateFiles(folder, "*.bin")
            .Order(StringComparer.Ordinal)
            .Select(file => (Path.GetFileName(file), File.ReadAllBytes(file)))
            .ToArray();
    }

    /// <summary>Stores an input in <paramref name="folder"/> (by default the target's corpus folder); returns its file name.</summary>
    public static string Save(string target, byte[] input, string? folder = null)
    {
        folder ??= FolderOf(target);
        Directory.CreateDirectory(folder);
        var name = NameOf(input);
        var path = Path.Combine(folder, name);
        if (!File.Exists(path))
        {
            File.WriteAllBytes(path, input);
        }

        return name;
    }

    public static string NameOf(byte[] input) => Convert.ToHexStringLower(SHA256.HashData(input), 0, 8) + ".bin";

    private static string FindRoot([CallerFilePath] string sourceFile = "")
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LibCluster.Net.Tests.csproj")))
            {
                return Path.Combine(directory.FullName, "Fuzz", "Corpus");
            }
        }

        // Built elsewhere than in the source tree: the compiler knew where this file was.
        return Path.Combine(Path.GetDirectoryName(sourceFile)!, "Corpus");
    }
}
