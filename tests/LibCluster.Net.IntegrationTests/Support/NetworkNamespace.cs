using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace LibCluster.IntegrationTests.Support;

/// <summary>
/// A Linux network namespace that a test creates (<c>ip netns add lc-&lt;random&gt;</c>) and deletes again by that name.
/// Created with only its loopback interface, up and with multicast on, so multicast between processes in it never
/// reaches a real interface of the machine. Processes run in it through <see cref="CommandPrefix"/>; sockets of the
/// test process itself are created in it with <see cref="Run{T}"/>.
/// </summary>
internal sealed class NetworkNamespace : IAsyncDisposable
{
    private const int CloneNewNet = 0x40000000;
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(15);
    private static readonly Lazy<string?> Unavailable = new(FindWhyUnavailable);
    private int _disposed;

    private NetworkNamespace(string name)
    {
        Name = name;
    }

    public string Name { get; }

    /// <summary>Runs a command inside the namespace: <c>ip netns exec NAME</c>.</summary>
    public IReadOnlyList<string> CommandPrefix => ["ip", "netns", "exec", Name];

    /// <summary>Why network namespaces cannot be used here, or null when they can.</summary>
    public static string? WhyUnavailable() => Unavailable.Value;

    /// <summary>A new name, <c>lc-</c> and 8 random hex digits: short enough for interface names derived from it.</summary>
    public static string NewName(string prefix = "lc-") => prefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));

    /// <summary>Creates a namespace whose only interface is its loopback, up and with multicast on.</summary>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        var space = new NetworkNamespace(NewName());
        await RunIpAsync("netns", "add", space.Name);
        try
        {
            await space.IpAsync("link", "set", "lo", "up", "multicast", "on");
        }
        catch
        {
            await space.DisposeAsync();
            throw;
        }

        return space;
    }

    /// <summary>Runs <c>ip -n NAME args...</c>, throwing with its output when it fails.</summary>
    public Task<string> IpAsync(params string[] args) => RunIpAsync([.. (string[])["-n", Name], .. args]);

    /// <summary>
    /// Runs <paramref name="action"/> on a dedicated thread switched into this namespace (setns), so that sockets it
    /// creates and the interfaces it looks up belong to the namespace; the thread switches back and ends afterwards.
    /// Sockets keep their namespace for life, whichever thread uses them later.
    /// </summary>
    public T Run<T>(Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var original = File.OpenHandle("/proc/thread-self/ns/net");
                using var target = File.OpenHandle($"/var/run/netns/{Name}");
                if (SetNamespace(target.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns into {Name} failed with errno {Marshal.GetLastPInvokeError()}.");
                }

                try
                {
                    result = action();
                }
                finally
                {
                    if (SetNamespace(original.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                    {
                        // The thread ends right after this, so nothing else ever runs in the wrong namespace.
                        failure = new InvalidOperationException($"setns back out of {Name} failed with errno {Marshal.GetLastPInvokeError()}.");
                    }
                }
            }
            catch (Exception ex)
            {
                failure = ex;
            }
        })
        {
            IsBackground = true,
            Name = $"netns {Name}",
        };
        thread.Start();
        if (!thread.Join(CommandTimeout))
        {
            throw new TimeoutException($"Work inside network namespace {Name} took longer than {CommandTimeout}.");
        }

        if (failure is not null)
        {
            throw failure;
        }

        return result;
    }

    /// <summary>Deletes the namespace by its name (its interfaces go with it). Idempotent; never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await RunIpAsync("netns", "del", Name);
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or System.ComponentModel.Win32Exception)
        {
            // Already gone, or ip failed: nothing more a test can do; the name is random, so it clashes with nothing.
        }
    }

    /// <summary>Runs <c>ip args...</c> with a timeout, throwing with its output when it fails.</summary>
    public static async Task<string> RunIpAsync(params string[] args)
    {
        var info = new ProcessStartInfo("ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start ip.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"ip {string.Join(' ', args)} did not finish within {CommandTimeout}.");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed ({process.ExitCode}): {await error}{await output}");
        }

        return await output;
    }

    private static string? FindWhyUnavailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "Needs Linux network namespaces (CI runs these tests on Linux as root).";
        }

        if (GetEffectiveUserId() != 0)
        {
            return "Needs root to create network namespaces (CI runs as root).";
        }

        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        var hasIp = path.Split(':', StringSplitOptions.RemoveEmptyEntries).Any(dir => File.Exists(Path.Combine(dir, "ip")));
        return hasIp ? null : "Needs the ip command (iproute2) to create network namespaces.";
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();

    [DllImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static extern int SetNamespace(int fd, int nsType);
}
