using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;

namespace LibCluster.Benchmarks.Infrastructure;

/// <summary>
/// This program started again in a hidden role (a node in its own OS process). Its stdout lines are kept with the
/// time they arrived, so the driver can wait for them; its stderr is kept (the last lines go into failure messages)
/// and echoed with a prefix when asked. Every child is registered so that <see cref="KillAll"/> can end it by pid,
/// whatever happened to the driver's own code. A child also stops by itself when its stdin closes, which covers a
/// driver that died without cleaning up.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private const int SigKill = 9;
    private const int SigCont = 18;
    private const int SigStop = 19;

    private static readonly List<ChildProcess> s_all = [];

    private readonly Process _process;
    private readonly List<(string Line, long Timestamp)> _lines = [];
    private readonly Queue<string> _errors = new();
    private readonly bool _echoErrors;
    private bool _stopped;
    private int _killedByPid;

    private ChildProcess(string label, Process process, bool echoErrors)
    {
        Label = label;
        _process = process;
        _echoErrors = echoErrors;
        Pid = process.Id;
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnError(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Label { get; }

    public int Pid { get; }

    public bool HasExited
    {
        get
        {
            try
            {
                return _process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    /// <summary>Starts this program with <paramref name="args"/> (a hidden role and its options).</summary>
    public static ChildProcess Start(string label, IEnumerable<string> args, bool echoErrors, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // `dotnet LibCluster.Net.Benchmarks.dll` (dotnet run, dotnet test) or the apphost.
        var exe = Environment.ProcessPath ?? "dotnet";
        info.FileName = exe;
        if (string.Equals(Path.GetFileNameWithoutExtension(exe), "dotnet", StringComparison.Ordinal))
        {
            info.ArgumentList.Add(Assembly.GetExecutingAssembly().Location);
        }

        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        var process = Process.Start(info) ?? throw new BenchFailedException($"could not start {label}");
        var child = new ChildProcess(label, process, echoErrors);
        lock (s_all)
        {
            s_all.Add(child);
        }

        return child;
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        lock (_lines)
        {
            _lines.Add((line, now));
            Monitor.PulseAll(_lines);
        }
    }

    private void OnError(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_errors)
        {
            _errors.Enqueue(line);
            if (_errors.Count > 60)
            {
                _errors.Dequeue();
            }
        }

        if (_echoErrors)
        {
            Console.Error.WriteLine($"[{Label}] {line}");
        }
    }

    /// <summary>The stdout lines so far.</summary>
    public int LineCount
    {
        get
        {
            lock (_lines)
            {
                return _lines.Count;
            }
        }
    }

    public string[] Lines(int skip = 0)
    {
        lock (_lines)
        {
            return _lines.Skip(skip).Select(l => l.Line).ToArray();
        }
    }

    /// <summary>The last lines the child wrote to stderr, for failure messages.</summary>
    public string ErrorTail
    {
        get
        {
            lock (_errors)
            {
                return string.Join('\n', _errors);
            }
        }
    }

    /// <summary>
    /// Waits until the stdout lines from index <paramref name="skip"/> on satisfy <paramref name="condition"/>
    /// (called under a lock with those lines); fails with the child's output after <paramref name="timeout"/>.
    /// </summary>
    public T WaitFor<T>(Func<IReadOnlyList<string>, T?> condition, TimeSpan timeout, string because, int skip = 0)
        where T : class
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        lock (_lines)
        {
            while (true)
            {
                var result = condition(_lines.Skip(skip).Select(l => l.Line).ToList());
                if (result is not null)
                {
                    return result;
                }

                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
                if (left <= TimeSpan.Zero || HasExited && !Monitor.Wait(_lines, 200))
                {
                    throw new BenchFailedException(
                        $"{Label} (pid {Pid}): timed out after {timeout.TotalSeconds:0.#} s waiting until {because}{(HasExited ? " (it exited)" : string.Empty)}.\n" +
                        $"stdout:\n  {string.Join("\n  ", _lines.TakeLast(30).Select(l => l.Line))}\nstderr:\n  {ErrorTail.Replace("\n", "\n  ", StringComparison.Ordinal)}");
                }

                Monitor.Wait(_lines, left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
            }
        }
    }

    /// <summary>Waits for a line starting with <paramref name="prefix"/>, at index <paramref name="skip"/> or later.</summary>
    public string WaitForLine(string prefix, TimeSpan timeout, int skip = 0) =>
        WaitFor(lines => lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)), timeout, $"it prints '{prefix}...'", skip);

    public void WriteLine(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes the child's stdin: its signal to stop gracefully.</summary>
    public void CloseInput()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }
    }

    /// <summary>Ends the process at once (SIGKILL): the kernel closes its sockets.</summary>
    public void Kill()
    {
        if (!HasExited)
        {
            try
            {
                _process.Kill();
            }
            catch (InvalidOperationException)
            {
            }
        }

        if (_stopped)
        {
            // A stopped process dies of SIGKILL too; the SIGCONT only tidies up.
            _ = sys_kill(Pid, SigCont);
            _stopped = false;
        }
    }

    /// <summary>Freezes the process (SIGSTOP): its sockets stay open but nothing answers, which only ticks can detect.</summary>
    public void Freeze()
    {
        _stopped = true;
        Signal(SigStop);
    }

    private void Signal(int signal)
    {
        if (sys_kill(Pid, signal) != 0 && !HasExited)
        {
            throw new BenchFailedException($"kill({Pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>Stops the child gracefully (stdin closed), killing it if it has not exited within <paramref name="timeout"/>.</summary>
    public void Stop(TimeSpan timeout)
    {
        if (HasExited)
        {
            return;
        }

        if (_stopped)
        {
            Kill();
            return;
        }

        CloseInput();
        if (!_process.WaitForExit(timeout))
        {
            Console.Error.WriteLine($"bench: {Label} (pid {Pid}) did not exit within {timeout.TotalSeconds:0.#} s of its stdin closing; killing it");
            Kill();
        }
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(10));
        _process.Dispose();
        lock (s_all)
        {
            s_all.Remove(this);
        }
    }

    /// <summary>Kills, by pid, every child this process started that is still running (watchdog, Ctrl+C, failures).</summary>
    public static void KillAll()
    {
        ChildProcess[] all;
        lock (s_all)
        {
            all = [.. s_all];
        }

        foreach (var child in all)
        {
            if (!child.HasExited && Interlocked.Exchange(ref child._killedByPid, 1) == 0)
            {
                Console.Error.WriteLine($"bench: killing {child.Label} (pid {child.Pid.ToString(CultureInfo.InvariantCulture)})");
                _ = sys_kill(child.Pid, SigKill);
                _ = sys_kill(child.Pid, SigCont);
            }
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int sys_kill(int pid, int signal);
}
