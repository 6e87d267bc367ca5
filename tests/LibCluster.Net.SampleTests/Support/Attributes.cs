namespace LibCluster.SampleTests.Support;

/// <summary>All the tests here start processes that load the CPU: they run one at a time, in this collection.</summary>
[CollectionDefinition(Name)]
public sealed class SampleProcesses
{
    public const string Name = "Sample processes";
}

/// <summary>A test that signals processes by pid (SIGTERM, SIGINT): Linux only.</summary>
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!Signals.Supported)
        {
            Skip = "Sends POSIX signals by pid and reads /proc: Linux only.";
        }
    }
}

/// <summary>A test that does what a terminal's Ctrl+C does: SIGINT to every process of the foreground job.</summary>
internal sealed class CtrlCFactAttribute : FactAttribute
{
    public CtrlCFactAttribute()
    {
        if (!Signals.Supported)
        {
            Skip = "Sends POSIX signals by pid and reads /proc: Linux only.";
        }
        else if (Signals.IsIgnoredHere(Signals.SigInt))
        {
            // A shell runs background jobs with SIGINT ignored, and children inherit that: a SIGINT would do nothing.
            Skip = "SIGINT is ignored in this test run (started in the background by a shell), so its children would ignore it too.";
        }
    }
}

/// <summary>A test that runs a real dnsmasq as the DNS server: Linux, with dnsmasq installed (.ci/run installs it).</summary>
internal sealed class DnsmasqFactAttribute : FactAttribute
{
    public DnsmasqFactAttribute()
    {
        if (!Signals.Supported)
        {
            Skip = "Sends POSIX signals by pid and reads /proc: Linux only.";
        }
        else if (Dnsmasq.Executable is null)
        {
            Skip = "dnsmasq is not installed (.ci/run installs it: apt-get install dnsmasq-base).";
        }
    }
}

/// <summary>A test that compiles an app to native code: needs Linux and a C toolchain (clang or gcc) to link it.</summary>
internal sealed class NativeAotFactAttribute : FactAttribute
{
    public NativeAotFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
        {
            Skip = "Publishes for linux-x64: Linux only.";
        }
        else if (!OnPath("clang") && !OnPath("gcc"))
        {
            Skip = "Native AOT links with clang or gcc, and neither is installed (apt-get install gcc; .ci/run does).";
        }
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Any(dir => File.Exists(Path.Combine(dir, tool)));
}
