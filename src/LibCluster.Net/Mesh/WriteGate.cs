namespace LibCluster.Mesh;

/// <summary>
/// The lock a connection's writers take so that their frames never interleave. Taking it when it is free is one
/// compare-and-swap and letting it go when nobody waits is one exchange (a SemaphoreSlim takes a monitor for each);
/// writers that must wait queue in arrival order, and a newcomer does not overtake them.
/// </summary>
internal sealed class WriteGate
{
    private readonly Lock _sync = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private int _held;
    private int _waiting;

    /// <summary>Takes the gate if it is free and nobody waits for it.</summary>
    public bool TryEnter() => Volatile.Read(ref _waiting) == 0 && Interlocked.CompareExchange(ref _held, 1, 0) == 0;

    /// <summary>Takes the gate, waiting in line if it is held.</summary>
    public Task EnterAsync(CancellationToken cancellationToken = default) =>
        TryEnter() ? Task.CompletedTask : EnterSlowAsync(cancellationToken);

    /// <summary>Takes the gate within <paramref name="timeout"/>; false if it could not.</summary>
    public async Task<bool> TryEnterAsync(TimeSpan timeout)
    {
        if (TryEnter())
        {
            return true;
        }

        using var expiry = new CancellationTokenSource(timeout);
        try
        {
            await EnterSlowAsync(expiry.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (expiry.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task EnterSlowAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        LinkedListNode<TaskCompletionSource> node;
        lock (_sync)
        {
            node = _waiters.AddLast(waiter);
            Interlocked.Increment(ref _waiting);

            // The holder may have let go before it could see this waiter: then nobody would wake it.
            if (Interlocked.CompareExchange(ref _held, 1, 0) == 0)
            {
                HandToNextLocked();
            }
        }

        using (cancellationToken.UnsafeRegister(static (state, token) => ((Cancellation)state!).Cancel(token), new Cancellation(this, node)))
        {
            await waiter.Task.ConfigureAwait(false);
        }
    }

    /// <summary>Lets the gate go, to the first waiter if there is one.</summary>
    public void Exit()
    {
        if (Volatile.Read(ref _waiting) == 0)
        {
            // A full fence: a waiter that queues right now either sees the gate free or is seen here.
            Interlocked.Exchange(ref _held, 0);
            if (Volatile.Read(ref _waiting) == 0 || Interlocked.CompareExchange(ref _held, 1, 0) != 0)
            {
                return;
            }
        }

        lock (_sync)
        {
            HandToNextLocked();
        }
    }

    /// <summary>Passes the gate, which the caller holds, to the first waiter; or frees it when none is left.</summary>
    private void HandToNextLocked()
    {
        if (_waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            Interlocked.Decrement(ref _waiting);
            first.Value.TrySetResult();
            return;
        }

        Interlocked.Exchange(ref _held, 0);
    }

    private sealed class Cancellation(WriteGate gate, LinkedListNode<TaskCompletionSource> node)
    {
        public void Cancel(CancellationToken token)
        {
            lock (gate._sync)
            {
                // Only a waiter still in line gives up; one already handed the gate keeps it (its caller lets it go).
                if (node.List is null)
                {
                    return;
                }

                gate._waiters.Remove(node);
                Interlocked.Decrement(ref gate._waiting);
            }

            node.Value.TrySetCanceled(token);
        }
    }
}
