using System.Net;
using System.Threading.Channels;
using LibCluster.Strategies.Gossip;

namespace LibCluster.Tests.Strategies.Gossip;

/// <summary>An in-memory transport: the test delivers datagrams and reads what the strategy sent. No sockets.</summary>
internal sealed class FakeGossipTransport : IGossipTransport
{
    public static readonly EndPoint DefaultSource = new IPEndPoint(IPAddress.Parse("192.0.2.50"), 45892);

    private readonly Channel<(byte[] Packet, EndPoint? Source, Exception? Error)> _incoming = Channel.CreateUnbounded<(byte[], EndPoint?, Exception?)>();
    private readonly Channel<byte[]> _sent = Channel.CreateUnbounded<byte[]>();
    private int _receives;
    private int _delivered;
    private int _sentCount;
    private int _disposed;

    public string Description => "fake transport";

    /// <summary>How many heartbeats the strategy sent so far.</summary>
    public int SentCount => Volatile.Read(ref _sentCount);

    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Deliver(byte[] packet, EndPoint? source = null)
    {
        Interlocked.Increment(ref _delivered);
        _incoming.Writer.TryWrite((packet, source ?? DefaultSource, null));
    }

    /// <summary>Makes the next receive throw <paramref name="error"/>, as a socket would.</summary>
    public void DeliverError(Exception error)
    {
        Interlocked.Increment(ref _delivered);
        _incoming.Writer.TryWrite(([], null, error));
    }

    /// <summary>
    /// Waits until every delivered datagram has been handled: the receive loop has come back for the next one after
    /// the last (the loop handles one datagram between two receives).
    /// </summary>
    public Task WaitHandledAsync() =>
        Eventually.TrueAsync(() => Volatile.Read(ref _receives) > Volatile.Read(ref _delivered), $"the strategy handled all {Volatile.Read(ref _delivered)} delivered datagrams");

    public Task<byte[]> NextSentAsync() => _sent.Reader.ReadAsync().AsTask().WithTimeout();

    public bool TryTakeSent(out byte[] packet) => _sent.Reader.TryRead(out packet!);

    public ValueTask SendAsync(ReadOnlyMemory<byte> packet, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _sentCount);
        _sent.Writer.TryWrite(packet.ToArray());
        return default;
    }

    public async ValueTask<GossipDatagram> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _receives);
        var (packet, source, error) = await _incoming.Reader.ReadAsync(cancellationToken);
        if (error is not null)
        {
            throw error;
        }

        packet.CopyTo(buffer);
        return new GossipDatagram(packet.Length, source);
    }

    public void Dispose() => Interlocked.Exchange(ref _disposed, 1);
}
