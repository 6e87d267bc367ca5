using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using LibCluster.Benchmarks.Infrastructure;
using LibCluster.Messaging;
using LibCluster.Nodes;

namespace LibCluster.Benchmarks.Measures;

/// <summary>
/// Messaging between two nodes in two OS processes on loopback, by the anchors' method (shared/anchors/RESULTS.md):
/// 1000 warm-up and then N sequential <see cref="ICluster.RequestAsync"/> round trips to an <c>echo</c> mailbox;
/// then M one-way <see cref="ICluster.SendAsync"/> calls to a <c>sink</c> mailbox, each awaited (the API's contract:
/// it completes once the message is queued), ended by a request to a <c>count</c> mailbox whose reply carries the
/// number of messages the sink received. The clock stops when that reply arrives; the count must equal M.
/// </summary>
internal static class PingPong
{
    private const int Warmup = 1000;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(BenchArgs args)
    {
        var roundTrips = args.Int("roundtrips", args.Flag("quick") ? 200 : 20000, min: 1);
        var messages = args.Int("messages", args.Flag("quick") ? 5000 : 1_000_000, min: 1);
        var payloadSize = args.Int("payload", 64, min: 0, max: 1024 * 1024);
        var verbose = args.Flag("verbose");
        var allocTypes = args.Flag("alloc-types");
        args.ThrowIfUnused();

        using var sampler = allocTypes ? new AllocationSampler() : null;
        var peerName = "bench_peer@127.0.0.1";
        using var peer = ChildProcess.Start("peer", allocTypes ? ["peer", "--name", peerName, "--alloc-types"] : ["peer", "--name", peerName], verbose || allocTypes);
        var ready = peer.WaitForLine("READY ", TimeSpan.FromSeconds(60));
        var peerPort = int.Parse(ready.AsSpan(6), CultureInfo.InvariantCulture);

        var host = BenchHost.Build("bench_driver@127.0.0.1", 0);
        await host.StartAsync().ConfigureAwait(false);
        try
        {
            var cluster = host.Cluster();
            var to = NodeName.Parse(peerName);
            await cluster.ConnectAsync(new NodeAddress(to, "127.0.0.1", peerPort)).ConfigureAwait(false);

            var payload = new byte[payloadSize];
            Array.Fill(payload, (byte)'x');

            // (1) Round trips.
            for (var i = 0; i < Warmup; i++)
            {
                await EchoAsync(cluster, to, payload).ConfigureAwait(false);
            }

            var driverBefore = ProcessStats.Now();
            var peerBefore = await PeerStatsAsync(cluster, to).ConfigureAwait(false);
            var t0 = Stopwatch.GetTimestamp();
            for (var i = 0; i < roundTrips; i++)
            {
                await EchoAsync(cluster, to, payload).ConfigureAwait(false);
            }

            var t1 = Stopwatch.GetTimestamp();
            var driverAfter = ProcessStats.Now();
            var peerAfter = await PeerStatsAsync(cluster, to).ConfigureAwait(false);
            var roundTripUs = Stopwatch.GetElapsedTime(t0, t1).TotalMicroseconds / roundTrips;
            Console.Error.WriteLine(ProcessStats.Describe("roundtrip", "driver", driverBefore, driverAfter, roundTrips));
            Console.Error.WriteLine(ProcessStats.Describe("roundtrip", "peer", peerBefore, peerAfter, roundTrips));

            // (2) One-way stream, then the count.
            driverBefore = ProcessStats.Now();
            peerBefore = await PeerStatsAsync(cluster, to).ConfigureAwait(false);
            var expected = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(expected, messages);
            var t2 = Stopwatch.GetTimestamp();
            for (var i = 0; i < messages; i++)
            {
                await cluster.SendAsync(to, "sink", payload).ConfigureAwait(false);
            }

            var sent = Stopwatch.GetTimestamp();
            var reply = await cluster.RequestAsync(to, "count", expected, RequestTimeout).ConfigureAwait(false);
            var t3 = Stopwatch.GetTimestamp();
            var count = BinaryPrimitives.ReadInt64BigEndian(reply.Payload.Span);
            driverAfter = ProcessStats.Now();
            peerAfter = await PeerStatsAsync(cluster, to).ConfigureAwait(false);
            if (count != messages)
            {
                throw new BenchFailedException($"the sink counted {count} messages; {messages} were sent");
            }

            var streamRate = messages / Stopwatch.GetElapsedTime(t2, t3).TotalSeconds;
            Console.Error.WriteLine(ProcessStats.Describe("stream", "driver", driverBefore, driverAfter, messages));
            Console.Error.WriteLine(ProcessStats.Describe("stream", "peer", peerBefore, peerAfter, messages));
            Console.Error.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"pingpong_extra send_loop_msgs_per_s={messages / Stopwatch.GetElapsedTime(t2, sent).TotalSeconds:F1} drain_after_last_send_ms={Stopwatch.GetElapsedTime(sent, t3).TotalMilliseconds:F1} payload_bytes={payloadSize}"));

            // The messaging layer alone: the same request to a mailbox on this node (no socket, no framing).
            var self = cluster.Self;
            using (cluster.Register("echo", static (message, ct) => message.ReplyAsync(message.Payload, ct), MailboxOptions.Inline))
            {
                for (var i = 0; i < Warmup; i++)
                {
                    await EchoAsync(cluster, self, payload).ConfigureAwait(false);
                }

                var local = Math.Min(roundTrips, 20000);
                var t4 = Stopwatch.GetTimestamp();
                for (var i = 0; i < local; i++)
                {
                    await EchoAsync(cluster, self, payload).ConfigureAwait(false);
                }

                Console.Error.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"pingpong_extra local_request_us={Stopwatch.GetElapsedTime(t4).TotalMicroseconds / local:F2} (a request to a mailbox on the same node: the messaging layer without the mesh)"));
            }

            Console.Out.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"libcluster_net roundtrip_us={roundTripUs:F2} roundtrips_per_s={1e6 / roundTripUs:F1} stream_msgs_per_s={streamRate:F1}"));
            return 0;
        }
        finally
        {
            await host.StopQuietlyAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            peer.Stop(TimeSpan.FromSeconds(10));
            sampler?.Report("driver");
        }
    }

    private static async Task EchoAsync(ICluster cluster, NodeName to, byte[] payload)
    {
        var reply = await cluster.RequestAsync(to, "echo", payload, RequestTimeout).ConfigureAwait(false);
        if (reply.Payload.Length != payload.Length)
        {
            throw new BenchFailedException($"the echo replied {reply.Payload.Length} bytes to {payload.Length}");
        }
    }

    private static async Task<ProcessStats> PeerStatsAsync(ICluster cluster, NodeName to)
    {
        var reply = await cluster.RequestAsync(to, "stats", ReadOnlyMemory<byte>.Empty, RequestTimeout).ConfigureAwait(false);
        return ProcessStats.Decode(Encoding.UTF8.GetString(reply.Payload.Span));
    }

    /// <summary>The hidden <c>peer</c> role: a node with the echo, sink, count and stats mailboxes.</summary>
    public static async Task<int> RunPeerAsync(BenchArgs args)
    {
        var name = args.String("name", "bench_peer@127.0.0.1");
        using var sampler = args.Flag("alloc-types") ? new AllocationSampler() : null;
        args.ThrowIfUnused();

        var sink = new Sink();
        var host = BenchHost.Build(name, 0);
        var cluster = host.Cluster();
        using var echo = cluster.Register("echo", static (message, ct) => message.ReplyAsync(message.Payload, ct), MailboxOptions.Inline);
        using var sinkMailbox = cluster.Register("sink", sink.OnMessage, MailboxOptions.Inline);
        using var count = cluster.Register("count", sink.OnCountAsync);
        using var stats = cluster.Register("stats", static (message, ct) => message.ReplyAsync(Encoding.UTF8.GetBytes(ProcessStats.Now().Encode()), ct));
        var closed = NodeRole.StdinClosed();
        await host.StartAsync().ConfigureAwait(false);
        NodeRole.Emit($"READY {host.ListenPort().ToString(CultureInfo.InvariantCulture)}");
        await closed.ConfigureAwait(false);
        await host.StopQuietlyAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        sampler?.Report("peer");
        return 0;
    }

    /// <summary>
    /// Counts what reaches the sink. The sink and count mailboxes each handle their messages in order but run
    /// independently, so the count request (sent after the last message) waits until the sink has seen the number
    /// the driver sent, or until the count stops moving for five seconds (messages were lost: the driver fails).
    /// </summary>
    private sealed class Sink
    {
        private static readonly TimeSpan Stall = TimeSpan.FromSeconds(5);
        private long _count;
        private long _target;
        private TaskCompletionSource? _reached;

        public ValueTask OnMessage(ClusterMessage message, CancellationToken cancellationToken)
        {
            var count = Interlocked.Increment(ref _count);
            var target = Interlocked.Read(ref _target);
            if (target > 0 && count >= target)
            {
                Volatile.Read(ref _reached)?.TrySetResult();
            }

            return ValueTask.CompletedTask;
        }

        public async ValueTask OnCountAsync(ClusterMessage message, CancellationToken cancellationToken)
        {
            var expected = message.Payload.Length == 8 ? BinaryPrimitives.ReadInt64BigEndian(message.Payload.Span) : 0;
            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _reached, reached);
            Interlocked.Exchange(ref _target, expected);
            var last = -1L;
            while (Interlocked.Read(ref _count) < expected)
            {
                var now = Interlocked.Read(ref _count);
                if (now == last)
                {
                    break;
                }

                last = now;
                try
                {
                    await reached.Task.WaitAsync(Stall, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
            }

            Interlocked.Exchange(ref _target, 0);
            var reply = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(reply, Interlocked.Exchange(ref _count, 0));
            await message.ReplyAsync(reply, cancellationToken).ConfigureAwait(false);
        }
    }
}
