using System.IO.Pipelines;

namespace LibCluster.Tests.Mesh;

/// <summary>One end of an in-memory connection: what this end reads and what it writes.</summary>
internal sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
{
    public PipeReader Input { get; } = input;

    public PipeWriter Output { get; } = output;

    public static Pipe NewPipe() => new(new PipeOptions(useSynchronizationContext: false));

    /// <summary>Two ends of one connection: what one writes, the other reads.</summary>
    public static (DuplexPipe Left, DuplexPipe Right) CreatePair()
    {
        var leftToRight = NewPipe();
        var rightToLeft = NewPipe();
        return (new DuplexPipe(rightToLeft.Reader, leftToRight.Writer), new DuplexPipe(leftToRight.Reader, rightToLeft.Writer));
    }

    /// <summary>Closes this end as closing a socket would: the other end reads the end of the stream. Idempotent.</summary>
    public async ValueTask CloseAsync()
    {
        await Output.CompleteAsync();
        await Input.CompleteAsync();
    }
}

/// <summary>
/// Copies bytes from one pipe to another, recording them and optionally altering some on the way:
/// a wiretap, or a man in the middle.
/// </summary>
internal sealed class Relay
{
    private readonly PipeReader _from;
    private readonly PipeWriter _to;
    private readonly Func<long, byte, byte>? _alter;
    private readonly List<byte> _captured = [];
    private readonly Lock _gate = new();

    private Relay(PipeReader from, PipeWriter to, Func<long, byte, byte>? alter)
    {
        _from = from;
        _to = to;
        _alter = alter;
        Completion = Task.Run(RunAsync);
    }

    /// <summary>Ends once either side has gone away; both pipes are completed by then.</summary>
    public Task Completion { get; }

    /// <param name="alter">Given each byte's offset in the stream and its value, gives the value to pass on.</param>
    public static Relay Start(PipeReader from, PipeWriter to, Func<long, byte, byte>? alter = null) => new(from, to, alter);

    /// <summary>Every byte passed on so far, as it was read (before any alteration).</summary>
    public byte[] Captured()
    {
        lock (_gate)
        {
            return [.. _captured];
        }
    }

    private async Task RunAsync()
    {
        long offset = 0;
        try
        {
            while (true)
            {
                var result = await _from.ReadAsync();
                var buffer = result.Buffer;
                var farEndGone = false;
                foreach (var segment in buffer)
                {
                    var bytes = segment.ToArray();
                    lock (_gate)
                    {
                        _captured.AddRange(bytes);
                    }

                    if (_alter is not null)
                    {
                        for (var i = 0; i < bytes.Length; i++)
                        {
                            bytes[i] = _alter(offset + i, bytes[i]);
                        }
                    }

                    offset += bytes.Length;
                    var flush = await _to.WriteAsync(bytes);
                    if (flush.IsCompleted)
                    {
                        farEndGone = true;
                        break;
                    }
                }

                _from.AdvanceTo(buffer.End);
                if (result.IsCompleted || farEndGone)
                {
                    return;
                }
            }
        }
        finally
        {
            await _from.CompleteAsync();
            await _to.CompleteAsync();
        }
    }
}

/// <summary>
/// An initiator end and an acceptor end joined through two relays, so that a test sees (and may alter) every byte
/// each side sends.
/// </summary>
internal sealed class TappedLink : IAsyncDisposable
{
    private TappedLink(Func<long, byte, byte>? alterToAcceptor, Func<long, byte, byte>? alterToInitiator)
    {
        var initiatorOut = DuplexPipe.NewPipe();
        var acceptorIn = DuplexPipe.NewPipe();
        var acceptorOut = DuplexPipe.NewPipe();
        var initiatorIn = DuplexPipe.NewPipe();
        Initiator = new DuplexPipe(initiatorIn.Reader, initiatorOut.Writer);
        Acceptor = new DuplexPipe(acceptorIn.Reader, acceptorOut.Writer);
        ToAcceptor = Relay.Start(initiatorOut.Reader, acceptorIn.Writer, alterToAcceptor);
        ToInitiator = Relay.Start(acceptorOut.Reader, initiatorIn.Writer, alterToInitiator);
    }

    public DuplexPipe Initiator { get; }

    public DuplexPipe Acceptor { get; }

    /// <summary>The initiator's bytes on their way to the acceptor.</summary>
    public Relay ToAcceptor { get; }

    /// <summary>The acceptor's bytes on their way to the initiator.</summary>
    public Relay ToInitiator { get; }

    public static TappedLink Create(Func<long, byte, byte>? alterToAcceptor = null, Func<long, byte, byte>? alterToInitiator = null) =>
        new(alterToAcceptor, alterToInitiator);

    public async ValueTask DisposeAsync()
    {
        await Initiator.CloseAsync();
        await Acceptor.CloseAsync();
        await Task.WhenAll(ToAcceptor.Completion, ToInitiator.Completion).WaitAsync(TimeSpan.FromSeconds(10));
    }
}
