using System.Globalization;
using System.Runtime.InteropServices;

namespace LibCluster.SampleTests.Support;

/// <summary>POSIX signals, sent by pid with kill(2).</summary>
internal static partial class Signals
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>The tests that send signals need them (Linux); elsewhere they are skipped.</summary>
    public static bool Supported => OperatingSystem.IsLinux();

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false if there is no such process.</summary>
    public static bool Send(int pid, int signal) => Kill(pid, signal) == 0;

    /// <summary>
    /// True when this process ignores <paramref name="signal"/>, as a non-interactive shell makes a background job ignore
    /// SIGINT: children inherit that, so a SIGINT sent to them would do nothing.
    /// </summary>
    public static bool IsIgnoredHere(int signal)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null
            && ulong.TryParse(line["SigIgn:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var mask)
            && (mask & (1UL << (signal - 1))) != 0;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
