using LibCluster.Diagnostics;
using LibCluster.Nodes;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace LibCluster.Topology;

/// <summary>
/// Runs the configured topologies and keeps this node connected to every node they want (DESIGN.md section 5).
/// </summary>
/// <remarks>
/// <para>
/// Each strategy runs in its own supervised loop: when it throws, or its enumeration ends, it is logged and started
/// again after an exponential backoff with jitter, and the last set it yielded stays in force meanwhile. A second
/// supervised loop watches the mesh's membership.
/// </para>
/// <para>
/// The desired nodes are the union of the topologies' last sets, minus this node. When two topologies give the same
/// node name different addresses, the topology that comes first in the list wins; within one set, the address with
/// the ordinally smallest host, then the smallest port. Every desired node that is not connected has a dialler that
/// retries with exponential backoff and jitter until the node is connected (by it or by anyone), stops being wanted,
/// or the runtime stops. At most <see cref="TopologyRuntimeOptions.MaxConcurrentDials"/> dials are in flight.
/// </para>
/// <para>
/// A node is disconnected only when it leaves the desired set: nodes that connected to us and that no topology ever
/// wanted are left alone. The runtime does not own the strategies and does not dispose them.
/// </para>
/// </remarks>
internal sealed partial class TopologyRuntime : IAsyncDisposable
{
    private static readonly ResiliencePropertyKey<NodeDialer> DialerKey = new("LibCluster.Topology.Dialer");
    private static readonly ResiliencePropertyKey<SupervisedLoop> LoopKey = new("LibCluster.Topology.Loop");

    private readonly TopologyEntry[] _topologies;
    private readonly INodeConnector _connector;
    private readonly NodeName _self;
    private readonly TopologyRuntimeOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _dialPipeline;
    private readonly ResiliencePipeline _restartPipeline;
    private readonly SemaphoreSlim _dialSlots;
    private readonly CancellationTokenSource _stopping = new();
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Guards everything below. Side effects (starting, cancelling, disconnecting) run after it is released:
    // cancelling a token can run continuations inline, and those take the lock again.
    private readonly Lock _gate = new();
    private readonly Dictionary<NodeName, NodeDialer> _dialers = [];
    private readonly HashSet<Task> _tasks = [];
    private Dictionary<NodeName, NodeAddress> _desired = [];
    private bool _started;
    private bool _stopped;
    private int _disposeCalled;

    /// <summary>Creates the runtime; nothing runs until <see cref="Start"/>.</summary>
    /// <param name="topologies">The enabled topologies, in configuration order (the order breaks address ties).</param>
    /// <param name="connector">The mesh, seen through connect, disconnect and watch.</param>
    /// <param name="options">Dialling and supervision settings.</param>
    /// <param name="time">The clock for every delay.</param>
    /// <param name="loggers">Creates the runtime's logger and one logger per topology for its strategy.</param>
    /// <param name="metrics">The cluster's instruments. Handed to strategies through their context, so polling strategies record their polls.</param>
    public TopologyRuntime(
        IReadOnlyList<(string Name, ITopologyStrategy Strategy)> topologies,
        INodeConnector connector,
        TopologyRuntimeOptions options,
        TimeProvider time,
        ILoggerFactory loggers,
        ClusterMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(topologies);
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggers);
        ArgumentNullException.ThrowIfNull(metrics);
        options.Validate();

        _connector = connector;
        _self = connector.Self;
        _options = options;
        _time = time;
        _logger = loggers.CreateLogger<TopologyRuntime>();
        _dialSlots = new SemaphoreSlim(options.MaxConcurrentDials, options.MaxConcurrentDials);

        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        _topologies = new TopologyEntry[topologies.Count];
        for (var i = 0; i < topologies.Count; i++)
        {
            var (name, strategy) = topologies[i];
            ArgumentException.ThrowIfNullOrWhiteSpace(name, nameof(topologies));
            ArgumentNullException.ThrowIfNull(strategy, nameof(topologies));
            if (!names.Add(name))
            {
                throw new ArgumentException($"The topology name '{name}' appears twice.", nameof(topologies));
            }

            var context = new TopologyContext
            {
                TopologyName = name,
                Self = _self,
                DefaultPort = options.DefaultPort,
                Creation = options.Creation,
                TimeProvider = time,
                Logger = loggers.CreateLogger($"{typeof(TopologyRuntime).Namespace}.{name}"),
                Metrics = metrics,
            };
            _topologies[i] = new TopologyEntry(name, strategy, context);
        }

        // Any exception is worth another dial: connectors should throw ClusterException, but a stray socket or I/O
        // error, or a connector's own timeout surfacing as OperationCanceledException, must not end the retries for
        // good. A dial that is no longer needed is the exception: whatever it ended with (typically the cancelled wait
        // for a dial slot), it is neither retried nor reported. Polly calls OnRetry without looking at the context's
        // token, so the predicate has to.
        _dialPipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is not null && !IsNoLongerNeeded(args.Context.CancellationToken)),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.ReconnectBaseDelay,
                MaxDelay = options.ReconnectMaxDelay,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = OnDialRetry,
            })
            .Build();

        _restartPipeline = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is not null),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.StrategyRestartBaseDelay,
                MaxDelay = options.StrategyRestartMaxDelay,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = OnRestartRetry,
            })
            .Build();
    }

    /// <summary>The nodes the topologies currently want connected (their union, without this node).</summary>
    public IReadOnlySet<NodeAddress> DesiredNodes
    {
        get
        {
            lock (_gate)
            {
                return _desired.Values.ToHashSet();
            }
        }
    }

    /// <summary>Starts the membership watch and one supervised loop per topology; returns at once.</summary>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (_started)
            {
                throw new InvalidOperationException("The topology runtime has already been started.");
            }

            _started = true;
        }

        var membership = new SupervisedLoop(null, "The membership watch of the node connector ended.");
        Spawn(() => SuperviseAsync(membership, WatchMembershipAsync));
        foreach (var topology in _topologies)
        {
            var loop = new SupervisedLoop(topology.Name, "The strategy's WatchAsync ended; a strategy must keep running until it is cancelled.");
            Spawn(() => SuperviseAsync(loop, (l, ct) => WatchTopologyAsync(topology, l, ct)));
        }
    }

    /// <summary>Stops every loop and dialler and waits for them. Connections stay up; closing them is the mesh's job.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposeCalled, 1) != 0)
        {
            await _disposed.Task.ConfigureAwait(false);
            return;
        }

        try
        {
            lock (_gate)
            {
                _stopped = true;
            }

            await _stopping.CancelAsync().ConfigureAwait(false);
            while (true)
            {
                Task[] pending;
                lock (_gate)
                {
                    pending = [.. _tasks];
                    _tasks.Clear();
                }

                if (pending.Length == 0)
                {
                    break;
                }

                // Each spawned task handles its own errors; a fault here would be a bug and must not stop the wait.
                await Task.WhenAll(pending).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            NodeDialer[] leftovers;
            lock (_gate)
            {
                leftovers = [.. _dialers.Values];
                _dialers.Clear();
            }

            foreach (var dialer in leftovers)
            {
                dialer.Dispose();
            }

            _dialSlots.Dispose();
            _stopping.Dispose();
        }
        finally
        {
            _disposed.TrySetResult();
        }
    }

    private async Task SuperviseAsync(SupervisedLoop loop, Func<SupervisedLoop, CancellationToken, Task> body)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            var context = ResilienceContextPool.Shared.Get(token);
            context.Properties.Set(LoopKey, loop);
            try
            {
                await _restartPipeline.ExecuteOutcomeAsync(
                    static (ctx, state) => RunOnceAsync(state.loop, state.body, ctx.CancellationToken),
                    context,
                    (loop, body)).ConfigureAwait(false);
            }
            finally
            {
                ResilienceContextPool.Shared.Return(context);
            }
        }
    }

    // One run of a supervised body. A failure is returned as an exception outcome so that Polly waits and runs it
    // again. A run that made progress before failing (yielded a set, saw a change) ends the pipeline instead, and the
    // next execution reports the carried failure as its first attempt: the backoff starts again from its base.
    private static async ValueTask<Outcome<bool>> RunOnceAsync(
        SupervisedLoop loop,
        Func<SupervisedLoop, CancellationToken, Task> body,
        CancellationToken cancellationToken)
    {
        if (loop.CarriedFailure is { } carried)
        {
            loop.CarriedFailure = null;
            return Outcome.FromException<bool>(carried);
        }

        loop.Progressed = false;
        Exception failure;
        try
        {
            await body(loop, cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                return Outcome.FromResult(true);
            }

            failure = new InvalidOperationException(loop.EndedMessage);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return Outcome.FromResult(true);
        }
#pragma warning disable CA1031 // A supervisor catches everything: the failure is logged and the body restarted.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            failure = ex;
        }

        if (loop.Progressed)
        {
            loop.CarriedFailure = failure;
            return Outcome.FromResult(false);
        }

        return Outcome.FromException<bool>(failure);
    }

    private ValueTask OnRestartRetry(OnRetryArguments<object> args)
    {
        var loop = args.Context.Properties.GetValue(LoopKey, null!);
        if (loop.Topology is { } topology)
        {
            LogStrategyFailed(_logger, topology, args.RetryDelay, args.Outcome.Exception);
        }
        else
        {
            LogMembershipWatchFailed(_logger, args.RetryDelay, args.Outcome.Exception);
        }

        return default;
    }

    private async Task WatchTopologyAsync(TopologyEntry topology, SupervisedLoop loop, CancellationToken cancellationToken)
    {
        var sets = topology.Strategy.WatchAsync(topology.Context, cancellationToken);
        await foreach (var set in sets.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            loop.Progressed = true;
            ApplyTopologySet(topology, set ?? throw new InvalidOperationException("The strategy yielded null instead of a set of nodes."));
        }
    }

    private async Task WatchMembershipAsync(SupervisedLoop loop, CancellationToken cancellationToken)
    {
        var changes = _connector.WatchAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (changes.ConfigureAwait(false))
        {
            // The first MoveNextAsync subscribes. Only then is every desired node checked again, so that a node that
            // went down while nobody watched (after a restart of this loop) cannot be missed.
            var next = changes.MoveNextAsync();
            var work = new Work();
            lock (_gate)
            {
                if (!_stopped)
                {
                    Reconcile(work);
                }
            }

            Run(work);
            while (await next.ConfigureAwait(false))
            {
                loop.Progressed = true;
                OnMembershipChange(changes.Current);
                next = changes.MoveNextAsync();
            }
        }
    }

    private void ApplyTopologySet(TopologyEntry topology, IReadOnlySet<NodeAddress> set)
    {
        var wanted = new Dictionary<NodeName, NodeAddress>(set.Count);
        foreach (var address in set)
        {
            if (address is null || address.Name == _self)
            {
                continue;
            }

            if (!wanted.TryGetValue(address.Name, out var other) || CompareAddresses(address, other) < 0)
            {
                wanted[address.Name] = address;
            }
        }

        var work = new Work();
        Dictionary<NodeName, NodeAddress>? previous;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            previous = topology.Wanted;
            topology.Wanted = wanted;

            // Reconciled on every yield, changed or not: it costs little and re-checks every desired node.
            Reconcile(work);
        }

        LogSetChange(topology.Name, previous, wanted);
        Run(work);
    }

    private void LogSetChange(string topology, Dictionary<NodeName, NodeAddress>? previous, Dictionary<NodeName, NodeAddress> wanted)
    {
        var added = 0;
        var removed = 0;
        foreach (var (name, address) in wanted)
        {
            if (previous is null || !previous.TryGetValue(name, out var before) || before != address)
            {
                added++;
                LogNodeWanted(_logger, topology, name, address.Host, address.Port);
            }
        }

        if (previous is not null)
        {
            foreach (var name in previous.Keys)
            {
                if (!wanted.ContainsKey(name))
                {
                    removed++;
                    LogNodeNoLongerWanted(_logger, topology, name);
                }
            }
        }

        if (previous is null || added > 0 || removed > 0)
        {
            LogTopologyChanged(_logger, topology, wanted.Count, added, removed);
        }
    }

    private void OnMembershipChange(MembershipChange change)
    {
        var work = new Work();
        var redial = false;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            var node = change.Node;
            if (change.Kind == MembershipChangeKind.NodeUp)
            {
                // Connected by someone else (an inbound connection, application code): stop retrying. Checked
                // against the mesh because the event may be stale.
                if (_dialers.TryGetValue(node, out var dialer) && _connector.IsConnected(node))
                {
                    _dialers.Remove(node);
                    dialer.StopReason = StopReasons.Connected;
                    work.Cancel.Add(dialer);
                }
            }
            else if (_desired.TryGetValue(node, out var address))
            {
                if (_dialers.TryGetValue(node, out var dialer))
                {
                    // It may be finishing a dial that just succeeded; it checks this flag when it is done.
                    dialer.DownSeen = true;
                }
                else if (!_connector.IsConnected(node))
                {
                    StartDialer(address, work);
                    redial = true;
                }
            }
        }

        if (redial)
        {
            LogRedialling(_logger, change.Node, change.Reason);
        }

        Run(work);
    }

    // Recomputes the desired set and brings the diallers and connections in line with it. Caller holds _gate.
    private void Reconcile(Work work)
    {
        var next = new Dictionary<NodeName, NodeAddress>(_desired.Count);
        foreach (var topology in _topologies)
        {
            if (topology.Wanted is { } wanted)
            {
                foreach (var (name, address) in wanted)
                {
                    next.TryAdd(name, address);
                }
            }
        }

        foreach (var name in _desired.Keys)
        {
            if (next.ContainsKey(name))
            {
                continue;
            }

            // A dial in flight is not cancelled; if it succeeds the dialler disconnects the node when it finishes.
            if (_dialers.Remove(name, out var dialer))
            {
                dialer.StopReason = StopReasons.NotWanted;
                work.Cancel.Add(dialer);
            }

            if (_connector.IsConnected(name))
            {
                work.Disconnect.Add(name);
            }
        }

        _desired = next;
        foreach (var (name, address) in next)
        {
            if (_dialers.TryGetValue(name, out var dialer))
            {
                if (dialer.Address == address)
                {
                    continue;
                }

                // The node moved: dial the new address instead.
                _dialers.Remove(name);
                dialer.StopReason = StopReasons.Moved;
                work.Cancel.Add(dialer);
            }

            if (!_connector.IsConnected(name))
            {
                StartDialer(address, work);
            }
        }
    }

    // Caller holds _gate.
    private void StartDialer(NodeAddress address, Work work)
    {
        var dialer = new NodeDialer(address, CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token));
        _dialers[address.Name] = dialer;
        work.Start.Add(dialer);
    }

    private void Run(Work work)
    {
        foreach (var dialer in work.Cancel)
        {
            dialer.Cancel();
        }

        foreach (var dialer in work.Start)
        {
            Spawn(() => RunDialerAsync(dialer));
        }

        foreach (var node in work.Disconnect)
        {
            LogDisconnecting(_logger, node);
            Spawn(() => DisconnectAsync(node));
        }
    }

    private async Task RunDialerAsync(NodeDialer dialer)
    {
        var context = ResilienceContextPool.Shared.Get(dialer.Token);
        context.Properties.Set(DialerKey, dialer);
        var connected = false;
        try
        {
            await _dialPipeline.ExecuteAsync(_ => DialOnceAsync(dialer), context).ConfigureAwait(false);
            connected = true;
        }
        catch (Exception ex) when (IsNoLongerNeeded(dialer.Token))
        {
            // Connected by someone else, no longer wanted, moved, or stopping: not a failure. Only an error other
            // than the cancellation itself (a dial that failed as it stopped being needed) is worth keeping.
            var reason = _stopping.IsCancellationRequested ? StopReasons.Stopping : dialer.StopReason;
            LogDialStopped(_logger, dialer.Address.Name, dialer.Address.Host, dialer.Address.Port, reason, ex is OperationCanceledException ? null : ex);
        }
#pragma warning disable CA1031 // The retry handles every exception, so only a bug lands here; it must not go unobserved.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogDiallerFailed(_logger, dialer.Address.Name, ex);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }

        OnDialerFinished(dialer, connected);
    }

    private async ValueTask DialOnceAsync(NodeDialer dialer)
    {
        // Waiting for a slot is where most unneeded dials end: in a mesh forming, the peer often dials first.
        await _dialSlots.WaitAsync(dialer.Token).ConfigureAwait(false);
        try
        {
            var address = dialer.Address;
            if (_connector.IsConnected(address.Name))
            {
                return;
            }

            // Cancelled as the slot came free: the node moved or is no longer wanted, so the dial would be undone.
            dialer.Token.ThrowIfCancellationRequested();

            LogDialling(_logger, address.Name, address.Host, address.Port, dialer.Failures + 1);

            // Only stopping cancels a dial: the connector bounds how long one takes, and a dial to a node that
            // stopped being wanted meanwhile is undone when it completes (OnDialerFinished).
            await _connector.ConnectAsync(address, _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            _dialSlots.Release();
        }
    }

    private ValueTask OnDialRetry(OnRetryArguments<object> args)
    {
        var dialer = args.Context.Properties.GetValue(DialerKey, null!);
        var address = dialer.Address;
        var error = args.Outcome.Exception;
        var reason = error?.Message ?? "unknown error";
        dialer.Failures++;

        // Warn on the first failure of a streak, then at most once per interval; the rest go to Debug.
        var now = _time.GetTimestamp();
        if (dialer.Failures == 1 || _time.GetElapsedTime(dialer.LastWarning, now) >= _options.DialFailureWarningInterval)
        {
            dialer.LastWarning = now;

            // A ClusterException's message says it all; anything else is unexpected and keeps its stack trace.
            LogDialFailed(_logger, address.Name, address.Host, address.Port, dialer.Failures, args.RetryDelay, reason, error is ClusterException ? null : error);
        }
        else
        {
            LogDialFailedAgain(_logger, address.Name, address.Host, address.Port, dialer.Failures, args.RetryDelay, reason);
        }

        return default;
    }

    // True once a dialler's dials are no longer needed. The runtime's own token is checked too: it is cancelled
    // synchronously when stopping starts, the diallers' linked tokens only when its callbacks have run.
    private bool IsNoLongerNeeded(CancellationToken dialerToken) => dialerToken.IsCancellationRequested || _stopping.IsCancellationRequested;

    private void OnDialerFinished(NodeDialer dialer, bool connected)
    {
        var name = dialer.Address.Name;
        var work = new Work();
        lock (_gate)
        {
            if (_dialers.TryGetValue(name, out var current) && current == dialer)
            {
                _dialers.Remove(name);
            }

            if (!_stopped)
            {
                if (_desired.TryGetValue(name, out var address))
                {
                    // The node went down while this dialler was finishing; nobody else will redial it.
                    if (dialer.DownSeen && !_dialers.ContainsKey(name) && !_connector.IsConnected(name))
                    {
                        StartDialer(address, work);
                    }
                }
                else if (connected && _connector.IsConnected(name))
                {
                    // The dial completed after the last topology that wanted the node dropped it.
                    work.Disconnect.Add(name);
                }
            }
        }

        dialer.Dispose();
        if (connected && dialer.Failures > 0)
        {
            LogConnectedAfterFailures(_logger, name, dialer.Address.Host, dialer.Address.Port, dialer.Failures);
        }

        Run(work);
    }

    private async Task DisconnectAsync(NodeName node)
    {
        try
        {
            await _connector.DisconnectAsync(node, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // A failed disconnect is logged; the runtime carries on.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogDisconnectFailed(_logger, node, ex);
        }
    }

    // Runs work on the thread pool and tracks it, so DisposeAsync can wait for it. Nothing starts once stopping.
    private void Spawn(Func<Task> work)
    {
        Task task;
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            task = Task.Run(work);
            _tasks.Add(task);
        }

        task.ContinueWith(
            static (t, state) =>
            {
                var runtime = (TopologyRuntime)state!;
                lock (runtime._gate)
                {
                    runtime._tasks.Remove(t);
                }
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private static int CompareAddresses(NodeAddress x, NodeAddress y)
    {
        var byHost = string.CompareOrdinal(x.Host, y.Host);
        return byHost != 0 ? byHost : x.Port.CompareTo(y.Port);
    }

    private sealed class TopologyEntry(string name, ITopologyStrategy strategy, TopologyContext context)
    {
        public string Name { get; } = name;

        public ITopologyStrategy Strategy { get; } = strategy;

        public TopologyContext Context { get; } = context;

        /// <summary>The last set yielded, self removed; null until the first yield. Guarded by the runtime's lock.</summary>
        public Dictionary<NodeName, NodeAddress>? Wanted { get; set; }
    }

    private sealed class SupervisedLoop(string? topology, string endedMessage)
    {
        /// <summary>The topology it runs, or null for the membership watch.</summary>
        public string? Topology { get; } = topology;

        public string EndedMessage { get; } = endedMessage;

        public bool Progressed { get; set; }

        public Exception? CarriedFailure { get; set; }
    }

    /// <summary>Retries one node until it is connected; cancelled when the runtime no longer needs it to.</summary>
    private sealed class NodeDialer(NodeAddress address, CancellationTokenSource cancellation) : IDisposable
    {
        public NodeAddress Address { get; } = address;

        public CancellationToken Token { get; } = cancellation.Token;

        /// <summary>Failed dials in this streak; only the dialler's own execution touches it.</summary>
        public int Failures { get; set; }

        public long LastWarning { get; set; }

        /// <summary>A NodeDown arrived while this dialler was registered. Guarded by the runtime's lock.</summary>
        public bool DownSeen { get; set; }

        /// <summary>Why it was cancelled (one of <see cref="StopReasons"/>); set under the runtime's lock before <see cref="Cancel"/>.</summary>
        public string StopReason { get; set; } = StopReasons.Stopping;

        public void Cancel()
        {
            try
            {
                cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // It finished and cleaned up in the meantime.
            }
        }

        public void Dispose() => cancellation.Dispose();
    }

    /// <summary>Why a dialler stopped before connecting, for the Debug log (event 2014).</summary>
    private static class StopReasons
    {
        public const string Connected = "it is connected (it dialled this node, or another dial won)";
        public const string NotWanted = "no topology wants it any more";
        public const string Moved = "its address changed; the new one is dialled instead";
        public const string Stopping = "this node is stopping";
    }

    /// <summary>Side effects decided under the lock and carried out after it.</summary>
    private sealed class Work
    {
        public List<NodeDialer> Cancel { get; } = [];

        public List<NodeDialer> Start { get; } = [];

        public List<NodeName> Disconnect { get; } = [];
    }
}
