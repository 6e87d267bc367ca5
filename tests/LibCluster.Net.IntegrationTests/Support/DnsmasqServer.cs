using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using DnsClient;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A real dnsmasq on 127.0.0.1 and a free port, answering only from records the test gives it: A/AAAA records in an
/// addn-hosts file (re-read on SIGHUP) and SRV records in its config file (read only at start, so changing them
/// restarts it on the same port). Names under <see cref="Domain"/> that it does not know answer NXDOMAIN; other names
/// REFUSED. Its files live in a temp directory of its own; disposing kills the process (by its id) and deletes them.
/// </summary>
internal sealed class DnsmasqServer : IAsyncDisposable
{
    /// <summary>The zone the server answers for; records should be under it.</summary>
    public const string Domain = "cluster.test";

    private const string ReadyName = "dnsmasq-ready." + Domain;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    private readonly string _directory;
    private readonly string _hostsFile;
    private readonly string _configFile;
    private readonly object _gate = new();
    private readonly List<string> _output = [];
    private DnsRecords _records;
    private Process? _process;
    private bool _disposed;

    private DnsmasqServer(string directory, int port, DnsRecords records)
    {
        _directory = directory;
        _hostsFile = Path.Combine(directory, "hosts");
        _configFile = Path.Combine(directory, "dnsmasq.conf");
        Port = port;
        _records = records;
    }

    /// <summary>The dnsmasq executable, or null when it is not installed (the tests that need it skip).</summary>
    public static string? Executable { get; } = FindExecutable();

    public int Port { get; }

    /// <summary>The server as a <c>NameServer</c> setting.</summary>
    public string NameServer => $"127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}";

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _process is { HasExited: false };
            }
        }
    }

    /// <summary>What dnsmasq wrote, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                return string.Join(Environment.NewLine, _output);
            }
        }
    }

    /// <summary>Writes the records, starts dnsmasq on a free port and returns once it answers.</summary>
    public static async Task<DnsmasqServer> StartAsync(DnsRecords records)
    {
        if (Executable is null)
        {
            throw new InvalidOperationException("dnsmasq is not installed (apt-get install dnsmasq-base).");
        }

        // A port free now may be taken before dnsmasq binds it; try a few.
        for (var attempt = 1; ; attempt++)
        {
            var directory = Directory.CreateTempSubdirectory("libcluster-dnsmasq-").FullName;
            var server = new DnsmasqServer(directory, TestPorts.Take(), records);
            try
            {
                server.WriteFiles();
                await server.StartProcessAsync();
                return server;
            }
            catch (Exception) when (attempt < 5 && server.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                await server.DisposeAsync();
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// Replaces the records and waits until dnsmasq serves them: a SIGHUP when only A/AAAA records changed (it re-reads
    /// its addn-hosts file), a restart on the same port when SRV records changed. A stopped server just gets the files.
    /// </summary>
    public async Task SetRecordsAsync(DnsRecords records)
    {
        var srvChanged = !records.SrvLines().SequenceEqual(_records.SrvLines());
        _records = records;
        WriteFiles();
        if (!IsRunning)
        {
            return;
        }

        if (srvChanged)
        {
            await StopAsync();
            await StartProcessAsync();
            return;
        }

        var reads = CountHostsReads();
        int pid;
        lock (_gate)
        {
            pid = _process!.Id;
        }

        if (SendSignal(pid, SigHup) != 0)
        {
            throw new InvalidOperationException($"Could not send SIGHUP to dnsmasq ({pid}): errno {Marshal.GetLastPInvokeError()}.");
        }

        await Eventually.TrueAsync(() => CountHostsReads() > reads, StartTimeout, "dnsmasq re-read its hosts file after SIGHUP", () => Output);
    }

    /// <summary>Kills dnsmasq (queries then go unanswered) and waits until it is gone; the port stays this server's.</summary>
    public async Task StopAsync()
    {
        Process? process;
        lock (_gate)
        {
            process = _process;
            _process = null;
        }

        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            await process.WaitForExitAsync().WaitAsync(StopTimeout);
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>Starts dnsmasq again on the same port, with the current records.</summary>
    public Task RestartAsync() => IsRunning ? Task.CompletedTask : StartProcessAsync();

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            await StopAsync();
        }
        finally
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task StartProcessAsync()
    {
        var info = new ProcessStartInfo(Executable!)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "--no-daemon",
            "--keep-in-foreground",
            "--log-facility=-",
            $"--conf-file={_configFile}",
            "--no-resolv",
            "--no-hosts",
            $"--addn-hosts={_hostsFile}",
            $"--local=/{Domain}/",
            $"--port={Port.ToString(CultureInfo.InvariantCulture)}",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            $"--pid-file={Path.Combine(_directory, "dnsmasq.pid")}",
        })
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info };
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        lock (_gate)
        {
            _process = process;
        }

        var options = new LookupClientOptions(EndPoint) { UseCache = false, Timeout = TimeSpan.FromMilliseconds(200), Retries = 0, ThrowDnsErrors = false };
        var client = new LookupClient(options);
        await Eventually.TrueAsync(
            async () => process.HasExited || await AnswersAsync(client),
            StartTimeout,
            $"dnsmasq answers on {EndPoint} (or exits)",
            () => Output);
        if (process.HasExited)
        {
            await process.WaitForExitAsync().WaitAsync(StopTimeout);
            throw new InvalidOperationException($"dnsmasq exited with code {process.ExitCode} at start:{Environment.NewLine}{Output}");
        }
    }

    /// <summary>Whether dnsmasq answers the name it is given to show that it is ready; throws while it does not listen yet.</summary>
    private static async Task<bool> AnswersAsync(LookupClient client)
    {
        var response = await client.QueryAsync(ReadyName, QueryType.A).WaitAsync(TimeSpan.FromSeconds(5));
        return response.Answers.ARecords().Any();
    }

    private void WriteFiles()
    {
        // Write then rename, so that dnsmasq never reads half a file.
        Replace(_hostsFile, $"127.0.0.1 {ReadyName}\n" + string.Concat(_records.HostLines().Select(l => l + "\n")));
        Replace(_configFile, string.Concat(_records.SrvLines().Select(l => l + "\n")));
    }

    private static void Replace(string path, string content)
    {
        var temp = path + ".new";
        File.WriteAllText(temp, content, new UTF8Encoding(false));
        File.Move(temp, path, overwrite: true);
    }

    private int CountHostsReads()
    {
        var marker = $"read {_hostsFile} ";
        lock (_gate)
        {
            return _output.Count(l => l.Contains(marker, StringComparison.Ordinal));
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_gate)
            {
                _output.Add(line);
            }
        }
    }

    private static string? FindExecutable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        var directories = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"]);
        return directories.Select(d => Path.Combine(d, "dnsmasq")).FirstOrDefault(File.Exists);
    }

    private const int SigHup = 1;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}

/// <summary>The records a <see cref="DnsmasqServer"/> serves.</summary>
internal sealed class DnsRecords
{
    private readonly List<(string Name, string Address)> _hosts = [];
    private readonly List<(string Service, string Target, int Port)> _srv = [];

    /// <summary>Adds an A or AAAA record.</summary>
    public DnsRecords Host(string name, string address)
    {
        _hosts.Add((name, address));
        return this;
    }

    /// <summary>Adds an SRV record (priority 0, weight 10).</summary>
    public DnsRecords Srv(string service, string target, int port)
    {
        _srv.Add((service, target, port));
        return this;
    }

    public IEnumerable<string> HostLines() => _hosts.Select(h => $"{h.Address} {h.Name}");

    public IEnumerable<string> SrvLines() =>
        _srv.Select(s => $"srv-host={s.Service},{s.Target},{s.Port.ToString(CultureInfo.InvariantCulture)},0,10");
}

/// <summary>A fact that needs dnsmasq: skipped, with the reason, where it is not installed.</summary>
internal sealed class DnsmasqFactAttribute : FactAttribute
{
    public DnsmasqFactAttribute()
    {
        if (DnsmasqServer.Executable is null)
        {
            Skip = "dnsmasq is not installed (apt-get install dnsmasq-base); .ci/run installs it.";
        }
    }
}
