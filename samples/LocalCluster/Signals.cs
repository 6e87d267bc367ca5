using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LocalCluster;

/// <summary>Asks a process to stop the way a service manager does: SIGTERM, which ASP.NET Core turns into a graceful stop.</summary>
internal static partial class Signals
{
    private const int SigTerm = 15;

    /// <summary>Sends SIGTERM where the platform has it; elsewhere kills the process (not graceful: its peers see the connection drop).</summary>
    public static void Terminate(Process process)
    {
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            try
            {
                // A process that has just exited gives ESRCH, which is fine: it is stopped.
                _ = Kill(process.Id, SigTerm);
                return;
            }
            catch (DllNotFoundException)
            {
            }
            catch (EntryPointNotFoundException)
            {
            }
        }

        // .NET cannot send a console control event to one process. On Windows, Ctrl+C in the console reaches every
        // instance anyway (they share it), so this fallback only matters when the launcher itself is asked to stop.
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
