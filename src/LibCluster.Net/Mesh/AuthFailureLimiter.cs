using System.Net;
using LibCluster.Diagnostics;
using Microsoft.Extensions.Logging;

namespace LibCluster.Mesh;

/// <summary>What the listener does with a connection that has just arrived.</summary>
internal enum AuthLimitVerdict
{
    /// <summary>Run the handshake.</summary>
    Allow,

    /// <summary>The address is cooling down: close the connection at once.</summary>
    Refuse,

    /// <summary>As <see cref="Refuse"/>, and the first refusal of this cool-down: the one that is logged.</summary>
    RefuseFirst,
}

/// <summary>
/// Slows down online cookie and certificate guessing. Per remote IP address: after <c>maxFailures</c> failed
/// authentications (a failed cookie proof, <c>bad_cookie</c>, or with mutual TLS a failed TLS handshake,
/// <c>tls_failed</c>) within <c>window</c>, connections from that address are closed as soon as they are accepted, for
/// a cool-down that starts at <c>firstCooldown</c> and doubles with each further cool-down up to <c>maxCooldown</c>. An
/// address that has stayed out of trouble for <c>maxCooldown</c> after its last cool-down starts again from
/// <c>firstCooldown</c>.
/// </summary>
/// <remarks>
/// <para>
/// Memory is bounded: at most <c>maxTrackedAddresses</c> addresses are remembered; when a new one arrives at the cap,
/// the one touched least recently is forgotten. An attacker with more addresses than the cap can therefore make the
/// limiter forget one of them, which costs it the cap's worth of failed handshakes first.
/// </para>
/// <para>
/// Nothing is exempt, not even loopback: on a host that runs several nodes, a node with the wrong cookie makes its
/// neighbours wait for the cool-down too. IPv6 addresses are limited one by one, not by prefix, so an attacker who
/// owns a whole IPv6 prefix is slowed down less. Driven by a <see cref="TimeProvider"/>; thread-safe.
/// </para>
/// </remarks>
internal sealed partial class AuthFailureLimiter
{
    /// <summary>Failed authentications within <see cref="DefaultWindow"/> that start a cool-down.</summary>
    public const int DefaultMaxFailures = 5;

    /// <summary>Addresses remembered at most.</summary>
    public const int DefaultMaxTrackedAddresses = 4096;

    public static readonly TimeSpan DefaultWindow = TimeSpan.FromSeconds(10);

    public static readonly TimeSpan DefaultFirstCooldown = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan DefaultMaxCooldown = TimeSpan.FromSeconds(60);

    private readonly TimeProvider _time;
    private readonly int _maxFailures;
    private readonly TimeSpan _window;
    private readonly TimeSpan _firstCooldown;
    private readonly TimeSpan _maxCooldown;
    private readonly int _maxTrackedAddresses;
    private readonly Lock _gate = new();
    private readonly Dictionary<IPAddress, LinkedListNode<Entry>> _entries = [];

    // Least recently touched first: the eviction order.
    private readonly LinkedList<Entry> _byLastTouch = new();

    /// <summary>The limiter with the defaults (5 failures in 10 s; 1 s doubling up to 60 s; 4096 addresses).</summary>
    public AuthFailureLimiter(TimeProvider time)
        : this(time, DefaultMaxFailures, DefaultWindow, DefaultFirstCooldown, DefaultMaxCooldown, DefaultMaxTrackedAddresses)
    {
    }

    public AuthFailureLimiter(TimeProvider time, int maxFailures, TimeSpan window, TimeSpan firstCooldown, TimeSpan maxCooldown, int maxTrackedAddresses)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxFailures, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(window, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(firstCooldown, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCooldown, firstCooldown);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTrackedAddresses, 1);
        _time = time;
        _maxFailures = maxFailures;
        _window = window;
        _firstCooldown = firstCooldown;
        _maxCooldown = maxCooldown;
        _maxTrackedAddresses = maxTrackedAddresses;
    }

    /// <summary>How many addresses are remembered now.</summary>
    public int TrackedAddresses
    {
        get
        {
            lock (_gate)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Notes a failed authentication from <paramref name="remote"/>. Returns the cool-down that this failure started,
    /// or null when it started none (or the address is unknown).
    /// </summary>
    public TimeSpan? RecordFailure(EndPoint? remote)
    {
        if (AddressOf(remote) is not { } address)
        {
            return null;
        }

        var now = _time.GetTimestamp();
        lock (_gate)
        {
            var entry = Touch(address, now);
            entry.DropFailuresBefore(_time, now, _window);
            entry.AddFailure(now);
            if (entry.FailureCount < _maxFailures)
            {
                return null;
            }

            // Forgiven after a quiet spell as long as the longest cool-down.
            if (entry.HasCooledDown && _time.GetElapsedTime(entry.CooldownStart, now) >= entry.Cooldown + _maxCooldown)
            {
                entry.Strikes = 0;
            }

            var cooldown = _firstCooldown;
            for (var i = 0; i < entry.Strikes && cooldown < _maxCooldown; i++)
            {
                cooldown *= 2;
            }

            entry.Cooldown = cooldown < _maxCooldown ? cooldown : _maxCooldown;
            entry.CooldownStart = now;
            entry.HasCooledDown = true;
            entry.Strikes++;
            entry.RefusalLogged = false;
            entry.ClearFailures();
            return entry.Cooldown;
        }
    }

    /// <summary>
    /// Whether a connection that has just arrived from <paramref name="remote"/> may run the handshake;
    /// <paramref name="cooldown"/> is the length of the cool-down that refuses it.
    /// </summary>
    public AuthLimitVerdict Check(EndPoint? remote, out TimeSpan cooldown)
    {
        cooldown = TimeSpan.Zero;
        if (AddressOf(remote) is not { } address)
        {
            return AuthLimitVerdict.Allow;
        }

        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (!_entries.TryGetValue(address, out var node) || !node.Value.IsCoolingDown(_time, now))
            {
                return AuthLimitVerdict.Allow;
            }

            cooldown = node.Value.Cooldown;
            if (node.Value.RefusalLogged)
            {
                return AuthLimitVerdict.Refuse;
            }

            node.Value.RefusalLogged = true;
            return AuthLimitVerdict.RefuseFirst;
        }
    }

    /// <summary>
    /// For the accept loop: true when the connection from <paramref name="remote"/> must be closed on arrival. Each
    /// refusal is counted (<c>libcluster.handshake.failures</c>, reason <c>rate_limited</c>); the first of each cool-down
    /// is logged at Warning (event 1008), the others are not, so that a client hammering the port cannot flood the log.
    /// </summary>
    public bool RefuseOnArrival(EndPoint? remote, ClusterMetrics metrics, ILogger logger)
    {
        var verdict = Check(remote, out var cooldown);
        if (verdict == AuthLimitVerdict.Allow)
        {
            return false;
        }

        metrics.HandshakeFailure("rate_limited", inbound: true);
        if (verdict == AuthLimitVerdict.RefuseFirst)
        {
            LogRateLimited(logger, remote, _maxFailures, _window.TotalSeconds, cooldown.TotalSeconds);
        }

        return true;
    }

    /// <summary>The IP address that limits and throttles key on: IPv4-mapped IPv6 as IPv4; null when not an IP endpoint.</summary>
    internal static IPAddress? AddressOf(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return null;
        }

        // A dual-mode listener reports IPv4 peers as ::ffff:a.b.c.d; they are the same peer.
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    /// <summary>The entry of <paramref name="address"/>, created if need be, moved to the most recently touched end.</summary>
    private Entry Touch(IPAddress address, long now)
    {
        if (_entries.TryGetValue(address, out var node))
        {
            _byLastTouch.Remove(node);
            _byLastTouch.AddLast(node);
            return node.Value;
        }

        ForgetIdle(now);
        while (_entries.Count >= _maxTrackedAddresses && _byLastTouch.First is { } oldest)
        {
            _byLastTouch.RemoveFirst();
            _entries.Remove(oldest.Value.Address);
        }

        node = _byLastTouch.AddLast(new Entry(address, _maxFailures));
        _entries.Add(address, node);
        return node.Value;
    }

    /// <summary>Forgets, from the least recently touched end, addresses that no longer matter.</summary>
    private void ForgetIdle(long now)
    {
        while (_byLastTouch.First is { } oldest && oldest.Value.IsIdle(_time, now, _window, _maxCooldown))
        {
            _byLastTouch.RemoveFirst();
            _entries.Remove(oldest.Value.Address);
        }
    }

    private sealed class Entry(IPAddress address, int maxFailures)
    {
        // A ring of the time stamps of the failures within the window: never more than maxFailures.
        private readonly long[] _failures = new long[maxFailures];
        private int _first;

        public IPAddress Address { get; } = address;

        public int FailureCount { get; private set; }

        /// <summary>Cool-downs started so far (since the last forgiveness); each doubles the next.</summary>
        public int Strikes { get; set; }

        /// <summary>True once a cool-down has started (the fields below describe the current or last one).</summary>
        public bool HasCooledDown { get; set; }

        /// <summary>When the current or last cool-down started.</summary>
        public long CooldownStart { get; set; }

        public TimeSpan Cooldown { get; set; }

        public bool RefusalLogged { get; set; }

        public bool IsCoolingDown(TimeProvider time, long now) =>
            HasCooledDown && time.GetElapsedTime(CooldownStart, now) < Cooldown;

        /// <summary>No failure to remember, no cool-down running, and nothing left to double.</summary>
        public bool IsIdle(TimeProvider time, long now, TimeSpan window, TimeSpan maxCooldown)
        {
            if (FailureCount > 0 && time.GetElapsedTime(_failures[(_first + FailureCount - 1) % _failures.Length], now) < window)
            {
                return false;
            }

            return !HasCooledDown || time.GetElapsedTime(CooldownStart, now) >= Cooldown + maxCooldown;
        }

        public void DropFailuresBefore(TimeProvider time, long now, TimeSpan window)
        {
            while (FailureCount > 0 && time.GetElapsedTime(_failures[_first], now) >= window)
            {
                _first = (_first + 1) % _failures.Length;
                FailureCount--;
            }
        }

        public void AddFailure(long now)
        {
            if (FailureCount == _failures.Length)
            {
                _first = (_first + 1) % _failures.Length;
                FailureCount--;
            }

            _failures[(_first + FailureCount) % _failures.Length] = now;
            FailureCount++;
        }

        public void ClearFailures()
        {
            _first = 0;
            FailureCount = 0;
        }
    }

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "Closing connections from {RemoteEndPoint} on arrival: {MaxFailures} failed authentications within {WindowSeconds} s; cool-down {CooldownSeconds} s (further refusals in it are only counted)")]
    private static partial void LogRateLimited(ILogger logger, EndPoint? remoteEndPoint, int maxFailures, double windowSeconds, double cooldownSeconds);
}
