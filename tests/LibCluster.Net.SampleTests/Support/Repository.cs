using System.Reflection;

namespace LibCluster.SampleTests.Support;

/// <summary>Where the checkout is, and how this test assembly was built.</summary>
internal static class Repository
{
    /// <summary>The folder holding LibCluster.Net.sln.</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>Debug or Release: the configuration the samples were built in along with these tests.</summary>
    public static string Configuration { get; } =
        typeof(Repository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";

    public static string File(params string[] parts) => Path.Combine([Root, .. parts]);

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(directory.FullName, "LibCluster.Net.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No LibCluster.Net.sln above {AppContext.BaseDirectory}.");
    }
}
