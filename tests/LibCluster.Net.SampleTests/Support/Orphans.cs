using System.Diagnostics;

namespace LibCluster.SampleTests.Support;

/// <summary>
/// Processes a test did not start itself but must not leave behind (the instances the launcher starts): remembered by
/// pid, and killed on dispose if still running — only if the pid still runs the expected program, so that a reused pid
/// is never touched.
/// </summary>
internal sealed class Orphans : IDisposable
{
    private readonly List<(int Pid, string Program)> _pids = [];

    public void Watch(int pid, string program)
    {
        lock (_pids)
        {
            _pids.Add((pid, program));
        }
    }

    /// <summary>True when <paramref name="pid"/> is still running <paramref name="program"/>.</summary>
    public static bool IsRunning(int pid, string program)
    {
        try
        {
            var commandLine = File.ReadAllText($"/proc/{pid}/cmdline");
            return commandLine.Contains(program, StringComparison.Ordinal) && !IsZombie(pid);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        lock (_pids)
        {
            foreach (var (pid, program) in _pids.Where(p => IsRunning(p.Pid, p.Program)))
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
                {
                    // Gone meanwhile.
                }
            }
        }
    }

    /// <summary>The pids whose parent is <paramref name="pid"/> (from /proc).</summary>
    public static int[] ChildrenOf(int pid)
    {
        var children = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var candidate))
            {
                continue;
            }

            try
            {
                // "pid (comm) state ppid ...": the parent is the second field after the name.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 1 && int.TryParse(fields[1], out var parent) && parent == pid)
                {
                    children.Add(candidate);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Exited while we looked.
            }
        }

        return [.. children];
    }

    private static bool IsZombie(int pid)
    {
        // /proc/<pid>/stat: "pid (comm) state ..."; a zombie (Z) has exited and only waits to be reaped.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var afterName = stat[(stat.LastIndexOf(')') + 1)..].TrimStart();
        return afterName.StartsWith('Z');
    }
}
