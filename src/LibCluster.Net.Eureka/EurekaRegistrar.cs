using LibCluster.Topology;

namespace LibCluster.Eureka;

/// <summary>
/// Keeps this node registered: registers it, renews the lease every <see cref="EurekaSettings.RenewalInterval"/>,
/// registers again at once when a renewal answers 404 (the registry restarted or evicted the node), and deregisters
/// on a graceful stop. Failures are logged once per outage (then at Debug) and counted; the loop never ends on its own.
/// </summary>
internal sealed class EurekaRegistrar
{
    private readonly EurekaClient _client;
    private readonly EurekaSettings _settings;
    private readonly TopologyContext _context;
    private readonly EurekaMetrics _metrics;
    private readonly Lock _gate = new();
    private bool _registered;
    private bool _attempted;
    private long _holdRemovalsUntil;
    private long _lastDirtyTimestamp;

    public EurekaRegistrar(EurekaClient client, EurekaSettings settings, TopologyContext context, EurekaMetrics metrics)
    {
        _client = client;
        _settings = settings;
        _context = context;
        _metrics = metrics;
    }

    /// <summary>True from a successful registration until a renewal finds the registry does not know the node.</summary>
    public bool IsRegistered
    {
        get
        {
            lock (_gate)
            {
                return _registered;
            }
        }
    }

    /// <summary>
    /// True for one lease after the registry lost this node's registration: the other nodes lost theirs too and may
    /// not have registered again yet, so a node missing from the registry is not yet a node that left.
    /// </summary>
    public bool HoldsRemovals
    {
        get
        {
            lock (_gate)
            {
                return _holdRemovalsUntil != 0 && _context.TimeProvider.GetTimestamp() < _holdRemovalsUntil;
            }
        }
    }

    /// <summary>Registers and renews until cancelled; <paramref name="firstAttempt"/> completes after the first registration attempt.</summary>
    public async Task RunAsync(TaskCompletionSource firstAttempt, CancellationToken cancellationToken)
    {
        var topology = _context.TopologyName;
        var logger = _context.Logger;
        var needsRegistration = true;
        var reason = "start";
        var failures = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                var operation = needsRegistration ? "register" : "renew";
                var registerAtOnce = false;
                try
                {
                    if (needsRegistration)
                    {
                        await RegisterAsync(reason, cancellationToken).ConfigureAwait(false);
                        needsRegistration = false;
                    }
                    else if (await _client.RenewAsync(ReadLastDirty(), cancellationToken).ConfigureAwait(false))
                    {
                        EurekaLog.Renewed(logger, topology, _settings.InstanceId);
                    }
                    else
                    {
                        LoseRegistration();
                        needsRegistration = true;
                        reason = "lost";
                        registerAtOnce = true;
                    }

                    if (failures > 0)
                    {
                        EurekaLog.RegistrationRecovered(logger, topology, failures);
                        failures = 0;
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                catch (EurekaException ex)
                {
                    failures++;
                    _metrics.Failure(topology, operation, ex.Reason);
                    if (failures > 1)
                    {
                        EurekaLog.RegistrationStillFailing(logger, topology, operation, failures, ex.Message);
                    }
                    else if (ex.Failure == EurekaFailure.BadResponse)
                    {
                        EurekaLog.BadResponse(logger, topology, operation, ex.Message);
                    }
                    else
                    {
                        EurekaLog.RegistrationFailed(logger, topology, operation, ex.Reason, _settings.RenewalInterval, ex.Message);
                    }
                }
#pragma warning disable CA1031 // The loop must outlive a bug in one round: it is logged and the next round runs.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failures++;
                    EurekaLog.UnexpectedFailure(logger, topology, operation, ex);
                }

                firstAttempt.TrySetResult();
                if (registerAtOnce)
                {
                    continue;
                }

                try
                {
                    await Task.Delay(_settings.RenewalInterval, _context.TimeProvider, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
        finally
        {
            firstAttempt.TrySetResult();
        }
    }

    /// <summary>
    /// <c>DELETE</c>s the registration, bounded by <see cref="EurekaSettings.DeregistrationTimeout"/>, so the other
    /// nodes stop dialling this one at once instead of after the lease. Never throws.
    /// </summary>
    public async Task DeregisterAsync()
    {
        bool attempted;
        lock (_gate)
        {
            attempted = _attempted;
            _registered = false;
        }

        if (!attempted)
        {
            return;
        }

        var topology = _context.TopologyName;
        using var timeout = new CancellationTokenSource(_settings.DeregistrationTimeout, _context.TimeProvider);
        try
        {
            if (await _client.DeregisterAsync(timeout.Token).ConfigureAwait(false))
            {
                EurekaLog.Deregistered(_context.Logger, topology, _settings.InstanceId);
            }
            else
            {
                EurekaLog.DeregisteredUnknown(_context.Logger, topology, _settings.InstanceId);
            }
        }
        catch (OperationCanceledException)
        {
            _metrics.Failure(topology, "deregister", EurekaException.ReasonOf(EurekaFailure.Unreachable));
            EurekaLog.DeregistrationFailed(_context.Logger, topology, _settings.InstanceId, $"no answer within {_settings.DeregistrationTimeout}.");
        }
        catch (EurekaException ex)
        {
            _metrics.Failure(topology, "deregister", ex.Reason);
            EurekaLog.DeregistrationFailed(_context.Logger, topology, _settings.InstanceId, ex.Message);
        }
    }

    private async Task RegisterAsync(string reason, CancellationToken cancellationToken)
    {
        var timestamp = _context.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_gate)
        {
            _attempted = true;
            _lastDirtyTimestamp = timestamp;
        }

        await _client.RegisterAsync(timestamp, cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _registered = true;
        }

        _metrics.Registered(_context.TopologyName, reason);
        EurekaLog.Registered(_context.Logger, _context.TopologyName, _settings.InstanceId, _settings.AppName, reason);
    }

    private void LoseRegistration()
    {
        var time = _context.TimeProvider;
        lock (_gate)
        {
            _registered = false;
            _holdRemovalsUntil = time.GetTimestamp() + (long)(_settings.LeaseDuration.TotalSeconds * time.TimestampFrequency);
        }

        _metrics.Failure(_context.TopologyName, "renew", "not_registered");

        EurekaLog.RegistrationLost(_context.Logger, _context.TopologyName, _settings.InstanceId, _settings.LeaseDuration);
    }

    private long ReadLastDirty()
    {
        lock (_gate)
        {
            return _lastDirtyTimestamp;
        }
    }
}
