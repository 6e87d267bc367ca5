using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using LibCluster.IntegrationTests.Support;
using LibCluster.Messaging;
using LibCluster.Nodes;
using Xunit.Abstractions;

namespace LibCluster.IntegrationTests.Faults;

/// <summary>
/// A bad link that still works: 10% packet loss and 200 ms of added latency in each direction, at the default TickTime.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class LossAndDelayTests(ITestOutputHelper output)
{
    private const int RelayPort = 9002;
    private const double LossProbability = 0.1;
    private const int Window = 8;
    private const int MaxPayloadBytes = 16 * 1024;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan DefaultTickTime = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan RunFor = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    // At most one message or request per pace: the load's own rhythm, not a wait for a condition.
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// Three hosts: node processes a and b, and an in-process node c that drives the check; a fourth, in-process node d
    /// on loopback reaches c through a relay whose other side is on a's host, so it uses the same link as a. Between
    /// a's host and c, iptables in c's namespace loses 10% of the packets both ways, and the relays (one in c's
    /// namespace for a, the other for d) delay every chunk by 200 ms each way. For 20 s: c keeps up to 8 echo requests
    /// in flight to a (over the bad link) and to b (a clean link), at most one every 5 ms, and every reply must be the
    /// request's payload, byte for byte; d sends numbered one-way messages to a mailbox on c, which must receive every
    /// one, intact and in send order. No node may see any other go down, and no connection may be dialled again.
    /// </summary>
    [IptablesFact]
    public async Task Messaging_TenPercentLossAnd200MsLatencyAtDefaultTickTime_NoNodeDownAndEverythingArrivesCompleteInOrder()
    {
        await using var nodes = await LanNodes.CreateAsync(3, tickTime: null);
        var hostA = nodes.Host(0);
        var hostC = nodes.Host(2);
        var cAddress = new IPEndPoint(IPAddress.Parse(hostC.IPv4), LanNodes.Port);
        await using var c = NamespaceNode.Start(hostC.Namespace, nodes.Name(2), hostC.IPv4, LanNodes.Port, DefaultTickTime);
        var ordered = new OrderedSink();
        using var orderedBox = c.Cluster.Register("ordered", (message, _) =>
        {
            ordered.Add(message.Payload.Span);
            return ValueTask.CompletedTask;
        });
        await using var relayForA = DelayingRelay.Start(hostC.Namespace, new IPEndPoint(IPAddress.Parse(hostC.IPv4), RelayPort), cAddress, Latency);
        await using var relayForD = DelayingRelay.Start(null, new IPEndPoint(IPAddress.Loopback, 0), hostA.Namespace, cAddress, Latency);
        nodes.SetDialPort(0, 2, RelayPort);
        await Iptables.AddLossAsync(hostC.Namespace, hostA.IPv4, LossProbability).WaitAsync(LanNodes.Timeout);

        var a = nodes.Start(0);
        var b = nodes.Start(1);
        await using var group = new NodeGroup();
        var d = group.Add(TestNode.Start("d", tickTime: DefaultTickTime));
        await d.Cluster.ConnectAsync(new NodeAddress(c.Name, "127.0.0.1", relayForD.EndPoint.Port)).AsTask().WaitAsync(LanNodes.Timeout);
        await nodes.WaitListeningAsync(0);
        await nodes.WaitListeningAsync(1);
        await nodes.WaitConnectedAsync(0, [1, 2]);
        await nodes.WaitConnectedAsync(1, [0, 2]);
        var nameA = NodeName.Parse(a.Name);
        var nameB = NodeName.Parse(b.Name);
        await Eventually.TrueAsync(
            () => c.Manager.IsConnected(nameA) && c.Manager.IsConnected(nameB) && c.Manager.IsConnected(d.Name),
            LanNodes.Timeout,
            "c is connected to a, b and d",
            () => c.Changes.Describe());
        await using var seenByD = MembershipRecorder.Start(d);
        var marks = (A: a.Lines.Length, B: b.Lines.Length, C: c.Changes.Count, RelayedA: relayForA.Connections, RelayedD: relayForD.Connections);

        var started = Stopwatch.StartNew();
        var overBadLink = RunEchoStreamAsync(c.Cluster, nameA, seed: 1);
        var overCleanLink = RunEchoStreamAsync(c.Cluster, nameB, seed: 2);
        var sent = await SendOrderedAsync(d.Cluster, c.Name, seed: 3).WaitAsync(RunFor + RequestTimeout + LanNodes.Timeout);
        var results = await Task.WhenAll(overBadLink, overCleanLink).WaitAsync(RequestTimeout + LanNodes.Timeout);
        await Eventually.TrueAsync(() => ordered.Count >= sent.Count, RequestTimeout, $"c has received the {sent.Count} messages d sent", ordered.ToString);
        started.Stop();
        var dropped = await Iptables.PacketsAsync(hostC.Namespace, "INPUT", "lc-loss").WaitAsync(LanNodes.Timeout)
            + await Iptables.PacketsAsync(hostC.Namespace, "OUTPUT", "lc-loss").WaitAsync(LanNodes.Timeout);

        var (bad, clean) = (results[0], results[1]);
        output.WriteLine($"{started.Elapsed.TotalSeconds:0.0} s at TickTime {DefaultTickTime.TotalSeconds:0} s; {dropped} packets dropped between a's host and c; the relays forwarded {relayForA.BytesForwarded + relayForD.BytesForwarded} bytes");
        output.WriteLine($"echo over the bad link (10% loss, +200 ms each way): {bad}");
        output.WriteLine($"echo over the clean link: {clean}");
        output.WriteLine($"one-way over the bad link: {sent.Count} messages ({sent.Bytes / 1024} KiB) sent, {ordered}");

        bad.Failures.Should().BeEmpty("a lossy, slow link still delivers every request and reply");
        clean.Failures.Should().BeEmpty();
        bad.Corrupted.Should().Be(0, "every reply is the request's payload, complete");
        clean.Corrupted.Should().Be(0);
        bad.Completed.Should().BeGreaterThan(20, "the bad link carried real traffic");
        clean.Completed.Should().BeGreaterThan(bad.Completed, "the clean link is the control");
        bad.Rtts.Min().Should().BeGreaterThanOrEqualTo(2 * Latency - TimeSpan.FromMilliseconds(20), "the relay really added the latency both ways");
        ordered.Count.Should().Be(sent.Count, "every one-way message arrives, once");
        ordered.OutOfOrder.Should().Be(0, "messages from one node arrive in send order");
        ordered.Corrupted.Should().Be(0, "every message arrives complete");
        dropped.Should().BeGreaterThan(0, "the loss rules really dropped packets");

        a.Lines.Skip(marks.A).Should().BeEmpty("a sees no node go down or come up again");
        b.Lines.Skip(marks.B).Should().BeEmpty("b sees no node go down or come up again");
        c.Changes.Snapshot(marks.C).Should().BeEmpty("c sees no node go down or come up again");
        seenByD.Snapshot().Should().ContainSingle("d sees only c, already up").Which.Kind.Should().Be(MembershipChangeKind.NodeUp);
        relayForA.Connections.Should().Be(marks.RelayedA, "the connection between a and c was never dropped and dialled again");
        relayForD.Connections.Should().Be(marks.RelayedD, "the connection between d and c was never dropped and dialled again");
    }

    /// <summary>Sends numbered one-way messages, each awaited before the next, for <see cref="RunFor"/>.</summary>
    private static async Task<(int Count, long Bytes)> SendOrderedAsync(ICluster cluster, NodeName to, int seed)
    {
        var random = new Random(seed);
        var count = 0;
        long bytes = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(RunFor.TotalSeconds * Stopwatch.Frequency);
        for (long sequence = 1; Stopwatch.GetTimestamp() < deadline; sequence++)
        {
            var payload = Payload(sequence, random.Next(0, MaxPayloadBytes / 4));
            await cluster.SendAsync(to, "ordered", payload).AsTask().WaitAsync(RequestTimeout);
            count++;
            bytes += payload.Length;
            await Task.Delay(Pace);
        }

        return (count, bytes);
    }

    private static async Task<EchoStreamResult> RunEchoStreamAsync(ICluster cluster, NodeName to, int seed)
    {
        var random = new Random(seed);
        var result = new EchoStreamResult();
        using var window = new SemaphoreSlim(Window, Window);
        var inFlight = new List<Task>();
        var deadline = Stopwatch.GetTimestamp() + (long)(RunFor.TotalSeconds * Stopwatch.Frequency);
        for (long sequence = 1; Stopwatch.GetTimestamp() < deadline; sequence++)
        {
            if (!await window.WaitAsync(RequestTimeout))
            {
                throw new TimeoutException($"No request to {to} completed within {RequestTimeout.TotalSeconds:0} s ({result}).");
            }
            var payload = Payload(sequence, random.Next(0, MaxPayloadBytes));
            var sent = Stopwatch.GetTimestamp();
            var request = cluster.RequestAsync(to, "echo", payload, RequestTimeout).AsTask();
            var number = sequence;

            inFlight.Add(request.ContinueWith(
                done =>
                {
                    result.Record(number, payload, done, Stopwatch.GetElapsedTime(sent));
                    window.Release();
                },
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default));

            // At most one request per pace: the clean link would otherwise spend both cores of a CI machine on echoes.
            await Task.Delay(Pace);
        }

        await Task.WhenAll(inFlight).WaitAsync(RequestTimeout + TimeSpan.FromSeconds(5));
        return result;
    }

    /// <summary>The sequence number, then bytes that depend on it and on their position: a torn or mixed-up payload shows.</summary>
    private static byte[] Payload(long sequence, int extra)
    {
        var payload = new byte[8 + extra];
        BinaryPrimitives.WriteInt64BigEndian(payload, sequence);
        for (var i = 8; i < payload.Length; i++)
        {
            payload[i] = (byte)((sequence * 31) + (i * 7));
        }

        return payload;
    }

    /// <summary>What c's mailbox received from d: how many, and how many came out of order or damaged.</summary>
    private sealed class OrderedSink
    {
        private readonly object _gate = new();
        private long _last;

        public int Count { get; private set; }

        public int OutOfOrder { get; private set; }

        public int Corrupted { get; private set; }

        public void Add(ReadOnlySpan<byte> payload)
        {
            var sequence = BinaryPrimitives.ReadInt64BigEndian(payload);
            var intact = payload.SequenceEqual(Payload(sequence, payload.Length - 8));
            lock (_gate)
            {
                Count++;
                Corrupted += intact ? 0 : 1;
                OutOfOrder += sequence == _last + 1 ? 0 : 1;
                _last = sequence;
            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return $"{Count} received, {OutOfOrder} out of order, {Corrupted} corrupted";
            }
        }
    }

    private sealed class EchoStreamResult
    {
        private readonly object _gate = new();

        public List<string> Failures { get; } = [];

        public List<TimeSpan> Rtts { get; } = [];

        public int Completed { get; private set; }

        public long Bytes { get; private set; }

        public int Corrupted { get; private set; }

        public void Record(long sequence, byte[] sent, Task<ClusterReply> done, TimeSpan rtt)
        {
            lock (_gate)
            {
                if (!done.IsCompletedSuccessfully)
                {
                    Failures.Add($"#{sequence}: {done.Exception?.GetBaseException().Message ?? "cancelled"}");
                    return;
                }

                Completed++;
                Bytes += sent.Length;
                Rtts.Add(rtt);
                if (!done.Result.Payload.Span.SequenceEqual(sent))
                {
                    Corrupted++;
                }

            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                var sorted = Rtts.Order().ToArray();
                string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0}";
                return sorted.Length == 0
                    ? $"no replies; failures: {string.Join("; ", Failures)}"
                    : $"{Completed} replies ({Bytes / 1024} KiB), round trip min {Ms(sorted[0])} / median {Ms(sorted[sorted.Length / 2])} / p99 {Ms(sorted[(int)(sorted.Length * 0.99)])} / max {Ms(sorted[^1])} ms, {Failures.Count} failed, {Corrupted} corrupted";
            }
        }
    }
}
