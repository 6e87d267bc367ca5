using System.Diagnostics;
using System.Globalization;

namespace LibCluster.SampleTests.Support;

/// <summary>Runs the dotnet CLI (and programs on the .NET runtime) the way a user would, from this same SDK.</summary>
internal static class Dotnet
{
    /// <summary>The dotnet host that runs these tests (so that the CLI and runtime match the ones that built them).</summary>
    public static string Host { get; } = FindHost();

    /// <summary>A start info for <c>dotnet {arguments}</c> in <paramref name="workingDirectory"/>, with a clean environment (see <see cref="Clean"/>).</summary>
    public static ProcessStartInfo StartInfo(string workingDirectory, params string[] arguments)
    {
        var info = new ProcessStartInfo(Host) { WorkingDirectory = workingDirectory };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Clean(info);
        return info;
    }

    /// <summary>
    /// Removes what the test run itself put in the environment (MSBuild's variables, ASP.NET Core's and LibCluster's
    /// settings), keeps the CLI quiet, puts this dotnet first on PATH, and stops the builds that tests run from leaving
    /// build servers behind (MSBuild nodes, the compiler server), so that each test's processes end with it.
    /// </summary>
    public static void Clean(ProcessStartInfo info)
    {
        var environment = info.Environment;
        foreach (var key in environment.Keys.ToArray())
        {
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("ASPNETCORE_", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("LibCluster__", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("CF_INSTANCE_", StringComparison.OrdinalIgnoreCase)
                || key.StartsWith("VCAP_", StringComparison.OrdinalIgnoreCase)
                || key is "PORT" or "DOTNET_ENVIRONMENT" or "VSTEST_HOST_DEBUG" or "NUGET_PLUGIN_PATHS")
            {
                environment.Remove(key);
            }
        }

        environment["DOTNET_NOLOGO"] = "1";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        environment["MSBUILDDISABLENODEREUSE"] = "1";
        environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        environment["UseSharedCompilation"] = "false";
        var path = environment.TryGetValue("PATH", out var existing) ? existing : null;
        environment["PATH"] = Path.GetDirectoryName(Host) + Path.PathSeparator + path;
    }

    /// <summary>Runs <c>dotnet {arguments}</c> to the end; throws with its output when it fails or takes longer than <paramref name="timeout"/>.</summary>
    public static async Task<string> RunAsync(string workingDirectory, TimeSpan timeout, params string[] arguments)
    {
        var started = Stopwatch.GetTimestamp();
        await using var process = ChildProcess.Start("dotnet " + arguments[0], StartInfo(workingDirectory, arguments));
        int exitCode;
        try
        {
            exitCode = await process.WaitForExitAsync(timeout);
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} (in {workingDirectory}) took longer than {timeout.TotalSeconds:0} s.", ex);
        }

        if (exitCode != 0)
        {
            throw new InvalidOperationException(
                $"dotnet {string.Join(' ', arguments)} (in {workingDirectory}) failed with exit code {exitCode} after {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s:\n{process.Tail(120)}");
        }

        return process.Output;
    }

    private static string FindHost()
    {
        var executable = OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet";
        if (Environment.ProcessPath is { } self && Path.GetFileName(self).Equals(executable, StringComparison.OrdinalIgnoreCase))
        {
            return self;
        }

        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        var root = Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var beside = Path.Combine(root, executable);
        return File.Exists(beside) ? beside : executable;
    }

    /// <summary>Formats a number for a command line or an environment variable.</summary>
    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
