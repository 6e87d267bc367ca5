namespace LibCluster.SampleTests.Support;

/// <summary>
/// samples/MyClusteredApp published once per test class (Release, framework-dependent, into a temp folder), as the
/// manifest's <c>path</c> expects it; everything the publish wrote, its intermediate files included, is deleted afterwards.
/// </summary>
public sealed class PublishedSampleApp : IAsyncLifetime
{
    private readonly TempDirectory _directory = new("publish");

    /// <summary>What <c>cf push</c> would upload: the folder with MyClusteredApp.dll and its appsettings*.json.</summary>
    public string Folder => _directory.Combine("app");

    public async Task InitializeAsync()
    {
        try
        {
            // --artifacts-path keeps this build's bin and obj out of the checkout, where other builds may be running.
            await Dotnet.RunAsync(
                Repository.Root,
                TimeSpan.FromMinutes(5),
                "publish", "samples/MyClusteredApp/MyClusteredApp.csproj", "-c", "Release", "-o", Folder, "--artifacts-path", _directory.Combine("artifacts"), "-nodeReuse:false");
        }
        catch
        {
            _directory.Dispose();
            throw;
        }
    }

    public Task DisposeAsync()
    {
        _directory.Dispose();
        return Task.CompletedTask;
    }
}
