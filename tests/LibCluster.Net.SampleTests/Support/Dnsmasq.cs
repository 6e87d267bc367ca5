using System.Diagnostics;
using System.Text;

namespace LibCluster.SampleTests.Support;

/// <summary>
/// A real dnsmasq on 127.0.0.1 and a free port, answering A records for one domain from a hosts file the test writes
/// (NXDOMAIN for other names in that domain, nothing for the rest): Cloud Foundry's internal DNS for <c>apps.internal</c>,
/// in miniature. Disposing kills it by its pid and deletes its files.
/// </summary>
internal sealed class Dnsmasq : IAsyncDisposable
{
    private readonly TempDirectory _directory;
    private readonly ChildProcess _process;

    private Dnsmasq(TempDirectory directory, ChildProcess process, int port)
    {
        _directory = directory;
        _process = process;
        Port = port;
    }

    /// <summary>The dnsmasq executable, or null when it is not installed (.ci/run installs it).</summary>
    public static string? Executable { get; } = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .Select(d => Path.Combine(d, "dnsmasq"))
        .FirstOrDefault(File.Exists);

    public int Port { get; }

    /// <summary>The server as the Dns strategy's <c>NameServer</c> setting.</summary>
    public string NameServer => $"127.0.0.1:{Dotnet.Text(Port)}";

    public string Output => _process.Output;

    /// <summary>Starts it with an A record <c>{name} → {address}</c> per entry, and returns once it has read them.</summary>
    public static async Task<Dnsmasq> StartAsync(string domain, IEnumerable<(string Name, string Address)> records)
    {
        var directory = new TempDirectory("dnsmasq");
        try
        {
            var hosts = directory.Combine("hosts");
            File.WriteAllText(hosts, string.Concat(records.Select(r => $"{r.Address} {r.Name}\n")), new UTF8Encoding(false));
            var port = FreePorts.Take(1)[0];
            var info = new ProcessStartInfo(Executable ?? throw new InvalidOperationException("dnsmasq is not installed."));
            foreach (var argument in new[]
            {
                "--keep-in-foreground",
                "--log-facility=-",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                $"--addn-hosts={hosts}",
                $"--local=/{domain}/",
                $"--port={Dotnet.Text(port)}",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                $"--pid-file={directory.Combine("dnsmasq.pid")}",
            })
            {
                info.ArgumentList.Add(argument);
            }

            var process = ChildProcess.Start("dnsmasq", info);
            var server = new Dnsmasq(directory, process, port);
            try
            {
                // It reads the hosts file once it is bound and ready: "read /tmp/.../hosts - 4 names".
                await process.WaitForLineAsync(l => l.Contains($"read {hosts}", StringComparison.Ordinal), TimeSpan.FromSeconds(15), "that it read its records");
            }
            catch
            {
                await server.DisposeAsync();
                throw;
            }

            return server;
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _directory.Dispose();
    }
}
