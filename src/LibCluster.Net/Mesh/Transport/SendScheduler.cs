using System.IO.Pipelines;

namespace LibCluster.Mesh.Transport;

/// <summary>
/// Decides where the send loop resumes after a flush. A request or a reply is flushed with
/// <see cref="FlushInline"/>: the send loop runs right away on the flushing thread, so a round trip pays no thread
/// hop. Everything else (one-way streams, ticks) resumes on the thread pool, which lets a busy stream pile frames
/// up behind a send in progress and go out many per system call.
/// </summary>
internal sealed class SendScheduler : PipeScheduler
{
    public static readonly SendScheduler Instance = new();

    [ThreadStatic]
    private static bool t_inline;

    private SendScheduler()
    {
    }

    /// <summary>Flushes <paramref name="writer"/>, resuming an idle send loop on this thread.</summary>
    public static ValueTask<FlushResult> FlushInline(PipeWriter writer, CancellationToken cancellationToken)
    {
        t_inline = true;
        try
        {
            return writer.FlushAsync(cancellationToken);
        }
        finally
        {
            t_inline = false;
        }
    }

    public override void Schedule(Action<object?> action, object? state)
    {
        if (t_inline)
        {
            // Once only: whatever the send loop flushes or awaits from here on goes back to the default.
            t_inline = false;
            action(state);
        }
        else
        {
            System.Threading.ThreadPool.UnsafeQueueUserWorkItem(action, state, preferLocal: false);
        }
    }
}
