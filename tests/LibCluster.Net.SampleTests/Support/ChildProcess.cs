using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace LibCluster.SampleTests.Support;

/// <summary>
/// A process a test started: its standard output and error are collected line by line (merged, in arrival order) so
/// that the test can wait for a line with a deadline. Disposing kills it by its pid (with anything it started) if it is
/// still running, so no test leaves a process behind, whether it passed or failed.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    /// <summary>What the test calls it in messages: <c>app2</c>, <c>launcher</c>.</summary>
    public string Name { get; }

    public int Pid { get; private set; }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything it printed so far.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Output => string.Join('\n', Lines);

    /// <summary>Its resident set size now, in bytes (what Cloud Foundry's memory limit counts).</summary>
    public long WorkingSet
    {
        get
        {
            _process.Refresh();
            return _process.WorkingSet64;
        }
    }

    /// <summary>Starts the process; standard input is a pipe kept open (a closed stdin must not look like a request to stop).</summary>
    public static ChildProcess Start(string name, ProcessStartInfo info)
    {
        info.UseShellExecute = false;
        info.RedirectStandardInput = true;
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.StandardOutputEncoding = Encoding.UTF8;
        info.StandardErrorEncoding = Encoding.UTF8;
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => child.Add(e.Data);
        process.ErrorDataReceived += (_, e) => child.Add(e.Data);
        process.Exited += (_, _) => child._exited.TrySetResult();
        process.Start();
        child.Pid = process.Id;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>Waits for a line matching <paramref name="predicate"/> (one already printed counts); fails if the process exits first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, string what)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            Task changed;
            lock (_lines)
            {
                if (_lines.FirstOrDefault(predicate) is { } line)
                {
                    return line;
                }

                changed = _changed.Task;
            }

            var remaining = timeout - Stopwatch.GetElapsedTime(started);
            if (_exited.Task.IsCompleted)
            {
                // Let the last lines arrive before giving up.
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
                if (Lines.FirstOrDefault(predicate) is { } last)
                {
                    return last;
                }

                throw new InvalidOperationException($"{Name} (pid {Pid}) exited with code {_process.ExitCode} before printing {what}. Output:\n{Tail()}");
            }

            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"{Name} (pid {Pid}) did not print {what} within {timeout.TotalSeconds:0} s. Output:\n{Tail()}");
            }

            await Task.WhenAny(changed, _exited.Task, Task.Delay(remaining));
        }
    }

    /// <summary>Waits for every line matching <paramref name="predicate"/> until there are <paramref name="count"/>.</summary>
    public async Task<string[]> WaitForLinesAsync(Func<string, bool> predicate, int count, TimeSpan timeout, string what)
    {
        await WaitForLineAsync(_ => Lines.Count(predicate) >= count, timeout, $"{count} lines of {what}");
        return Lines.Where(predicate).ToArray();
    }

    public bool Signal(int signal) => Signals.Send(Pid, signal);

    /// <summary>Waits for it to exit; throws (leaving it running, for dispose to kill) if it does not within <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{Name} (pid {Pid}) did not exit within {timeout.TotalSeconds:0} s. Output:\n{Tail()}");
        }

        return _process.ExitCode;
    }

    /// <summary>The last lines of output, for failure messages.</summary>
    public string Tail(int count = 80) => string.Join('\n', Lines.TakeLast(count));

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Exited meanwhile, or could not be waited for: nothing more to do for it.
        }

        _process.Dispose();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name} (pid {Pid})");

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        TaskCompletionSource changed;
        lock (_lines)
        {
            _lines.Add(line);
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
