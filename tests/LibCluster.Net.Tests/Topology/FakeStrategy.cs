using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LibCluster.Nodes;
using LibCluster.Topology;

namespace LibCluster.Tests.Topology;

/// <summary>A strategy driven by the test: each command yields a set, throws, or ends the enumeration.</summary>
internal sealed class FakeStrategy : ITopologyStrategy
{
    private static readonly object End = new();
    private readonly Channel<object> _commands = Channel.CreateUnbounded<object>();
    private int _starts;
    private int _running;
    private int _cancellations;

    /// <summary>How many times WatchAsync has been started.</summary>
    public int Starts => Volatile.Read(ref _starts);

    /// <summary>Enumerations currently running.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Enumerations that ended because they were cancelled.</summary>
    public int Cancellations => Volatile.Read(ref _cancellations);

    public TopologyContext? LastContext { get; private set; }

    public void Yield(params NodeAddress[] nodes) => _commands.Writer.TryWrite(nodes.ToHashSet());

    public void Throw(Exception exception) => _commands.Writer.TryWrite(exception);

    public void EndEnumeration() => _commands.Writer.TryWrite(End);

    public async IAsyncEnumerable<IReadOnlySet<NodeAddress>> WatchAsync(
        TopologyContext context,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        LastContext = context;
        Interlocked.Increment(ref _starts);
        Interlocked.Increment(ref _running);
        try
        {
            while (true)
            {
                var command = await NextAsync(cancellationToken);
                if (command == End)
                {
                    yield break;
                }

                if (command is Exception exception)
                {
                    throw exception;
                }

                yield return (IReadOnlySet<NodeAddress>)command;
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
    }

    private async Task<object> NextAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _commands.Reader.ReadAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref _cancellations);
            throw;
        }
    }
}
