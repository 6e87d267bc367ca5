using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using LibCluster.IntegrationTests.Support;
using LibCluster.Mesh;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// Flapping and churn: twenty whole hosts (AddLibCluster, Static topology listing all twenty) in this process on
/// loopback, joining and leaving at random for a bounded time, one of them flapping fast. At the end the survivors
/// must agree on the membership, and once everything is stopped nothing may be left behind: sockets, timers, the
/// hosts' objects, their connections, memory.
/// </summary>
/// <remarks>
/// 30 s in CI. With <c>LIBCLUSTER_SOAK=1</c> it runs for <c>LIBCLUSTER_SOAK_SECONDS</c> (default 600); the results
/// are in docs/reliability.md.
/// </remarks>
[Collection(FaultsCollection.Name)]
public sealed class ChurnTests(ITestOutputHelper output)
{
    private const int NodeCount = 20;
    private const int Flapper = 0;

    /// <summary>Growth of the managed heap allowed between before and after (pools and caches the runtime keeps).</summary>
    private const long MemoryBound = 16L * 1024 * 1024;

    private static readonly TimeSpan CiDuration = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>The reconnect backoff cap (30 s) plus one dial's connect and handshake timeouts (10 s), plus slack.</summary>
    private static readonly TimeSpan ConvergeTimeout = TimeSpan.FromSeconds(60);

    // The churn's own rhythm, random pauses between the joins and leaves, the requests and the flapping node's flaps:
    // the load under test, not waits for a condition, so fixed (if random) waits are right.
    private static readonly PauseRange ChurnPause = new(50, 250);
    private static readonly PauseRange TrafficPause = new(1, 10);
    private static readonly PauseRange FlapPause = new(20, 150);

    // How often the census is taken while the stopped hosts' sockets, timers and objects go away, up to Timeout.
    private static readonly TimeSpan SettlePollInterval = TimeSpan.FromMilliseconds(100);

    // After a soak: how long the runtime's shared array pool may take to trim (it keeps arrays until they have gone
    // unused for a minute), and how often the heap is weighed meanwhile.
    private static readonly TimeSpan PoolTrimTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan PoolTrimPollInterval = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task StaticCluster_TwentyNodesJoinAndLeaveAtRandom_SurvivorsAgreeAndNothingLeaks()
    {
        var duration = SoakDuration() ?? CiDuration;

        // One small cluster first, so that what the runtime creates once (JIT, statics, pools) is not counted as a leak.
        await RunWarmUpAsync();
        var before = Census.Take();

        var slots = Enumerable.Range(0, NodeCount)
            .Select(i => new Slot($"churn{i.ToString(CultureInfo.InvariantCulture)}@127.0.0.1", NodeProcess.FreePort()))
            .ToArray();
        var entries = slots.Select(s => $"{s.Name}:{s.Port.ToString(CultureInfo.InvariantCulture)}").ToArray();
        var stats = new ChurnStats();
        try
        {
            var formed = Stopwatch.StartNew();
            await Task.WhenAll(slots.Select(s => StartAsync(s, entries, stats))).WaitAsync(Timeout);
            await WaitForAgreementAsync(slots, ConvergeTimeout);
            output.WriteLine($"{NodeCount} hosts formed a full mesh in {formed.Elapsed.TotalSeconds:0.0} s");

            var churning = Stopwatch.StartNew();
            var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            await Task.WhenAll(
                FlapAsync(slots[Flapper], entries, stats, deadline, seed: 1),
                ChurnAsync(slots[1..10], entries, stats, deadline, seed: 2),
                ChurnAsync(slots[10..], entries, stats, deadline, seed: 3),
                TrafficAsync(slots, stats, deadline, seed: 4),
                TrafficAsync(slots, stats, deadline, seed: 5)).WaitAsync(duration + ConvergeTimeout);
            churning.Stop();

            var converging = Stopwatch.StartNew();
            await WaitForAgreementAsync(slots, ConvergeTimeout);
            var survivors = slots.Count(s => s.Host is not null);
            output.WriteLine(
                $"churned {churning.Elapsed.TotalSeconds:0.0} s: {stats.Starts} starts, {stats.Stops} graceful stops ({stats.Flaps} of them by the flapping node), " +
                $"{stats.ConnectionsSeen} distinct connections sampled; {survivors} survivors agreed {converging.Elapsed.TotalMilliseconds:0} ms after the churn ended");
            output.WriteLine($"requests during the churn: {stats.DescribeOutcomes()}");
            stats.Outcomes().Keys.Should().BeSubsetOf(
                ["ok", nameof(NodeDownException), nameof(MailboxNotFoundException)],
                "a request to a node that is leaving fails at once with NodeDownException (or no_mailbox while it stops), never hangs until its timeout or fails otherwise");
        }
        finally
        {
            await Task.WhenAll(slots.Where(s => s.Host is not null).Select(s => StopAsync(s, stats))).WaitAsync(Timeout);
        }

        Array.Clear(slots);
        await AssertNothingLeakedAsync(before, stats);
    }

    private async Task AssertNothingLeakedAsync(Census before, ChurnStats stats)
    {
        // Stopping is asynchronous underneath (sockets, timers, continuations): give it a bounded moment to settle.
        var deadline = Stopwatch.GetTimestamp() + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
        Census after;
        int alive;
        while (true)
        {
            after = Census.Take();
            alive = stats.Alive();
            var settled = after.Sockets <= before.Sockets && after.Descriptors <= before.Descriptors && after.Timers <= before.Timers && alive == 0;
            if (settled || Stopwatch.GetTimestamp() > deadline)
            {
                break;
            }

            await Task.Delay(SettlePollInterval);
        }

        // The weak references are the test's own memory: drop them before weighing the heap.
        var tracked = stats.Tracked;
        var aliveDescription = stats.DescribeAlive();
        stats.Forget();
        var memory = Census.Take().Memory;
        output.WriteLine(
            $"before: {before}; after: {after with { Memory = memory }}; descriptors that grew: [{after.GrowthSince(before)}]; " +
            $"hosts, managers and connections still alive: {alive} of {tracked}");
        if (SoakDuration() is not null)
        {
            // A long run fills the runtime's shared array pool (pipes' and mailboxes' buffers), which keeps arrays until
            // they have gone unused for a minute. Let it trim, so that what remains is what the nodes left behind.
            var idle = Stopwatch.StartNew();
            while (idle.Elapsed < PoolTrimTimeout && memory - before.Memory >= MemoryBound / 4)
            {
                await Task.Delay(PoolTrimPollInterval);
                memory = Census.Take().Memory;
            }

            output.WriteLine($"after {idle.Elapsed.TotalSeconds:0} s idle, for the shared pools to trim: {memory / 1024} KiB managed heap ({(memory - before.Memory) / 1024:+0;-0} KiB)");
        }
        after.Sockets.Should().BeLessThanOrEqualTo(before.Sockets, "every socket of every stopped host is closed");
        after.Descriptors.Should().BeLessThanOrEqualTo(before.Descriptors, "no pipe, event or epoll descriptor is left open; grew: {0}", after.GrowthSince(before));
        after.Timers.Should().BeLessThanOrEqualTo(before.Timers, "no tick timer, backoff delay or timeout outlives its host");
        alive.Should().Be(0, "stopped hosts, their connection managers and their connections are garbage once stopped: {0}", aliveDescription);
        (memory - before.Memory).Should().BeLessThan(MemoryBound, "memory does not grow with the number of nodes that came and went");
    }

    private static async Task ChurnAsync(Slot[] slots, string[] entries, ChurnStats stats, long deadline, int seed)
    {
        var random = new Random(seed);
        var minimumUp = slots.Length / 2;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var slot = slots[random.Next(slots.Length)];
            if (slot.Host is null)
            {
                await StartAsync(slot, entries, stats);
            }
            else if (slots.Count(s => s.Host is not null) > minimumUp)
            {
                await StopAsync(slot, stats);
            }

            await Task.Delay(ChurnPause.Next(random));
        }
    }

    /// <summary>
    /// Requests from a random running node to a random other slot (running, stopping or stopped), many of them as
    /// their target leaves; the node asking is never one being stopped (its slot's gate is held meanwhile).
    /// </summary>
    private static async Task TrafficAsync(Slot[] slots, ChurnStats stats, long deadline, int seed)
    {
        var random = new Random(seed);
        var payload = new byte[64];
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var from = slots[random.Next(slots.Length)];
            var to = slots[random.Next(slots.Length)];
            if (from != to && await from.Gate.WaitAsync(0))
            {
                try
                {
                    if (from.Host is { } host)
                    {
                        var cluster = host.Services.GetRequiredService<ICluster>();
                        try
                        {
                            await cluster.RequestAsync(NodeName.Parse(to.Name), "churn", payload, RequestTimeout).AsTask().WaitAsync(RequestTimeout + Timeout);
                            stats.Outcome("ok");
                        }
#pragma warning disable CA1031 // Every failure is classified; the test asserts which kinds are acceptable.
                        catch (Exception ex)
#pragma warning restore CA1031
                        {
                            stats.Outcome(ex.GetType().Name);
                        }
                    }
                }
                finally
                {
                    from.Gate.Release();
                }
            }

            await Task.Delay(TrafficPause.Next(random));
        }
    }

    private static async Task FlapAsync(Slot slot, string[] entries, ChurnStats stats, long deadline, int seed)
    {
        var random = new Random(seed);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (slot.Host is null)
            {
                await StartAsync(slot, entries, stats);
            }
            else
            {
                await StopAsync(slot, stats);
                Interlocked.Increment(ref stats.Flaps);
            }

            await Task.Delay(FlapPause.Next(random));
        }

        // The flapping node ends up; it is a survivor like the others.
        if (slot.Host is null)
        {
            await StartAsync(slot, entries, stats);
        }
    }

    private static async Task StartAsync(Slot slot, string[] entries, ChurnStats stats)
    {
        await slot.Gate.WaitAsync(Timeout);
        try
        {
            var host = BuildHost(slot.Name, slot.Port, entries);
            await host.StartAsync().WaitAsync(Timeout);
            host.Services.GetRequiredService<ICluster>().Register("churn", (message, ct) => message.ReplyAsync(message.Payload, ct));
            slot.Host = host;
            Interlocked.Increment(ref stats.Starts);
            stats.Track(host);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    private static async Task StopAsync(Slot slot, ChurnStats stats)
    {
        await slot.Gate.WaitAsync(Timeout);
        try
        {
            var host = slot.Host!;
            slot.Host = null;
            stats.Sample(host);
            using (var stopping = new CancellationTokenSource(Timeout))
            {
                await host.StopAsync(stopping.Token).WaitAsync(Timeout);
            }

            host.Dispose();
            Interlocked.Increment(ref stats.Stops);
        }
        finally
        {
            slot.Gate.Release();
        }
    }

    private static async Task WaitForAgreementAsync(Slot[] slots, TimeSpan timeout)
    {
        string Disagreement()
        {
            var up = slots.Where(s => s.Host is not null).ToArray();
            var problems = new List<string>();
            foreach (var slot in up)
            {
                var cluster = slot.Host!.Services.GetRequiredService<ICluster>();
                var expected = up.Where(s => s != slot).Select(s => s.Name).ToHashSet();
                var actual = cluster.ConnectedNodes.Select(n => n.Value).ToHashSet();
                if (!actual.SetEquals(expected))
                {
                    problems.Add($"{slot.Name} lacks [{string.Join(", ", expected.Except(actual))}] and has extra [{string.Join(", ", actual.Except(expected))}]");
                }
            }

            return string.Join("; ", problems);
        }

        await Eventually.TrueAsync(() => Disagreement().Length == 0, timeout, "the surviving nodes agree on the membership", Disagreement);
    }

    private static async Task RunWarmUpAsync()
    {
        var stats = new ChurnStats();
        var slots = Enumerable.Range(0, 2).Select(i => new Slot($"warm{i.ToString(CultureInfo.InvariantCulture)}@127.0.0.1", NodeProcess.FreePort())).ToArray();
        var entries = slots.Select(s => $"{s.Name}:{s.Port.ToString(CultureInfo.InvariantCulture)}").ToArray();
        try
        {
            await Task.WhenAll(slots.Select(s => StartAsync(s, entries, stats))).WaitAsync(Timeout);
            await WaitForAgreementAsync(slots, ConvergeTimeout);
            var first = slots[0].Host!.Services.GetRequiredService<ICluster>();
            using var echo = slots[1].Host!.Services.GetRequiredService<ICluster>().Register("echo", (m, ct) => m.ReplyAsync(m.Payload, ct));
            await first.RequestAsync(NodeName.Parse(slots[1].Name), "echo", new byte[16], Timeout).AsTask().WaitAsync(Timeout);
        }
        finally
        {
            await Task.WhenAll(slots.Where(s => s.Host is not null).Select(s => StopAsync(s, stats))).WaitAsync(Timeout);
        }
    }

    private static IHost BuildHost(string name, int port, IEnumerable<string> nodes)
    {
        var settings = new Dictionary<string, string?>
        {
            ["LibCluster:Node:Name"] = name,
            ["LibCluster:Node:Cookie"] = TestNode.Cookie,
            ["LibCluster:Node:ListenAddress"] = "127.0.0.1",
            ["LibCluster:Node:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["LibCluster:Topologies:churn:Strategy"] = "Static",
        };
        var i = 0;
        foreach (var node in nodes)
        {
            settings[$"LibCluster:Topologies:churn:Config:Nodes:{(i++).ToString(CultureInfo.InvariantCulture)}"] = node;
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddLibCluster(builder.Configuration.GetSection("LibCluster"));
        return builder.Build();
    }

    /// <summary><c>LIBCLUSTER_SOAK=1</c>: the soak's duration (<c>LIBCLUSTER_SOAK_SECONDS</c>, default 600 s); otherwise null.</summary>
    private static TimeSpan? SoakDuration()
    {
        if (Environment.GetEnvironmentVariable("LIBCLUSTER_SOAK") != "1")
        {
            return null;
        }

        var seconds = int.TryParse(Environment.GetEnvironmentVariable("LIBCLUSTER_SOAK_SECONDS"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) && s > 0 ? s : 600;
        return TimeSpan.FromSeconds(seconds);
    }

    /// <summary>A random pause of <paramref name="MinMilliseconds"/> up to (not including) <paramref name="MaxMilliseconds"/>.</summary>
    private readonly record struct PauseRange(int MinMilliseconds, int MaxMilliseconds)
    {
        public TimeSpan Next(Random random) => TimeSpan.FromMilliseconds(random.Next(MinMilliseconds, MaxMilliseconds));
    }

    private sealed class Slot(string name, int port)
    {
        public string Name { get; } = name;

        public int Port { get; } = port;

        public IHost? Host { get; set; }

        /// <summary>Held while the slot's host starts or stops, and while it sends a request.</summary>
        public SemaphoreSlim Gate { get; } = new(1, 1);
    }

    /// <summary>What the churn did, and weak references to everything a stopped host must let go of.</summary>
    private sealed class ChurnStats
    {
        private readonly List<(string What, WeakReference Reference)> _tracked = [];
        private readonly Dictionary<string, int> _outcomes = [];

        public int Starts;
        public int Stops;
        public int Flaps;

        public int Tracked
        {
            get
            {
                lock (_tracked)
                {
                    return _tracked.Count;
                }
            }
        }

        /// <summary>Connections sampled (each belongs to one host and is sampled once, when that host stops).</summary>
        public int ConnectionsSeen { get; private set; }

        public void Outcome(string kind)
        {
            lock (_outcomes)
            {
                _outcomes[kind] = _outcomes.GetValueOrDefault(kind) + 1;
            }
        }

        public IReadOnlyDictionary<string, int> Outcomes()
        {
            lock (_outcomes)
            {
                return new Dictionary<string, int>(_outcomes);
            }
        }

        public string DescribeOutcomes() => string.Join(", ", Outcomes().OrderByDescending(o => o.Value).Select(o => $"{o.Value} {o.Key}"));

        /// <summary>Tracks a started host, its container, connection manager, mailboxes and cluster.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public void Track(IHost host)
        {
            var services = host.Services;
            lock (_tracked)
            {
                _tracked.Add(("host", new WeakReference(host)));
                _tracked.Add(("service provider", new WeakReference(services)));
                _tracked.Add(("connection manager", new WeakReference(services.GetRequiredService<ConnectionManager>())));
                _tracked.Add(("mailbox registry", new WeakReference(services.GetRequiredService<MailboxRegistry>())));
                _tracked.Add(("cluster", new WeakReference(services.GetRequiredService<ICluster>())));
            }
        }

        /// <summary>Tracks the connections a host holds right before it stops.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        public void Sample(IHost host)
        {
            foreach (var connection in host.Services.GetRequiredService<ConnectionManager>().GetConnections())
            {
                lock (_tracked)
                {
                    _tracked.Add(("connection", new WeakReference(connection)));
                    ConnectionsSeen++;
                }
            }
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        public int Alive()
        {
            Census.FullCollection();
            lock (_tracked)
            {
                return _tracked.Count(t => t.Reference.IsAlive);
            }
        }

        /// <summary>Drops the weak references (after the check), so that they do not count as the heap's growth.</summary>
        public void Forget()
        {
            lock (_tracked)
            {
                _tracked.Clear();
                _tracked.TrimExcess();
            }
        }

        public string DescribeAlive()
        {
            lock (_tracked)
            {
                return string.Join(", ", _tracked.Where(t => t.Reference.IsAlive).GroupBy(t => t.What).Select(g => $"{g.Count()} {g.Key}"));
            }
        }
    }

    /// <summary>
    /// What a leak would show: this process's descriptors other than files, its sockets, its active timers, and the
    /// managed heap after a full collection.
    /// </summary>
    private sealed record Census(int Descriptors, int Sockets, long Timers, long Memory, IReadOnlyDictionary<string, int> Kinds)
    {
        public static Census Take()
        {
            FullCollection();
            var (_, sockets) = SocketCensus.OwnDescriptors();
            var kinds = SocketCensus.OwnDescriptorKinds();

            // Files (assemblies and symbols the runtime maps the first time it needs them) are not resources of a node.
            var handles = kinds.Where(k => !k.Key.StartsWith('/')).Sum(k => k.Value);
            return new Census(handles, sockets, Timer.ActiveCount, GC.GetTotalMemory(forceFullCollection: true), kinds);
        }

        /// <summary>The kinds of descriptor that are more numerous now than in <paramref name="earlier"/>.</summary>
        public string GrowthSince(Census earlier) =>
            string.Join(", ", Kinds.Where(k => k.Value > earlier.Kinds.GetValueOrDefault(k.Key)).Select(k => $"{k.Key} +{k.Value - earlier.Kinds.GetValueOrDefault(k.Key)}"));

        public static void FullCollection()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
        }

        public override string ToString() => $"{Descriptors} descriptors other than files ({Sockets} sockets), {Timers} active timers, {Memory / 1024} KiB managed heap";
    }
}
