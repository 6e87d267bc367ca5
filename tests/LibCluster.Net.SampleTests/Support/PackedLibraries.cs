namespace LibCluster.SampleTests.Support;

/// <summary>
/// LibCluster.Net and LibCluster.Net.Eureka packed once per test class (Release) into a temp folder feed, under a version
/// of their own (<c>0.1.0-test.{random}</c>) so that NuGet's global packages folder can never hand a test a stale copy.
/// Disposing deletes the feed and the build's files, and removes that version from the global packages folder again.
/// </summary>
public sealed class PackedLibraries : IAsyncLifetime
{
    public static readonly string[] Ids = ["LibCluster.Net", "LibCluster.Net.Eureka"];

    private readonly TempDirectory _directory = new("pack");

    public string Version { get; } = $"0.1.0-test.{Guid.NewGuid().ToString("N")[..12]}";

    /// <summary>The folder with the .nupkg and .snupkg files: a local feed.</summary>
    public string Feed => _directory.Combine("feed");

    public string Package(string id, string extension = "nupkg") => Path.Combine(Feed, $"{id}.{Version}.{extension}");

    public async Task InitializeAsync()
    {
        try
        {
            // One after the other: they share the intermediate folder (--artifacts-path, outside the checkout, where
            // other builds may be running), and the second reuses the first's build of LibCluster.Net.
            foreach (var id in Ids)
            {
                await Dotnet.RunAsync(
                    Repository.Root,
                    TimeSpan.FromMinutes(5),
                    "pack", $"src/{id}/{id}.csproj", "-c", "Release", $"-p:Version={Version}", "-o", Feed, "--artifacts-path", _directory.Combine("artifacts"), "-nodeReuse:false");
            }
        }
        catch
        {
            _directory.Dispose();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        _directory.Dispose();
        var packages = await GlobalPackagesFolderAsync();
        foreach (var id in Ids)
        {
            var restored = new DirectoryInfo(Path.Combine(packages, id.ToLowerInvariant(), Version.ToLowerInvariant()));
            if (restored.Exists)
            {
                restored.Delete(recursive: true);
            }

            // The package's own folder too, when this test put the only version there.
            if (restored.Parent is { Exists: true } parent && !parent.EnumerateFileSystemInfos().Any())
            {
                parent.Delete();
            }
        }
    }

    /// <summary>Where restores extract packages (NUGET_PACKAGES, a nuget.config setting, or ~/.nuget/packages), as the CLI says.</summary>
    private static async Task<string> GlobalPackagesFolderAsync()
    {
        var output = await Dotnet.RunAsync(Repository.Root, TimeSpan.FromMinutes(1), "nuget", "locals", "global-packages", "--list");
        var line = output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("global-packages:", StringComparison.Ordinal));
        return line["global-packages:".Length..].Trim();
    }
}
