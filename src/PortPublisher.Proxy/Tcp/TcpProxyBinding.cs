using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// A TCP binding. Its listening socket is registered with every event loop (EPOLLEXCLUSIVE: the kernel wakes one),
/// and a connection lives on the loop that accepted it, or on a less busy one (<see cref="HomeFor"/>). At most <see cref="ProxyBindingOptions.MaxConnections"/>
/// relay at once; at the bound a loop stops watching the listener and the rest wait in the kernel's backlog.
/// </summary>
internal sealed class TcpProxyBinding : ProxyBinding
{
    /// <summary>
    /// The file a timed-out stop puts behind the listener's fd number (see <see cref="Abandon"/>), opened once per
    /// process when the first binding is made, so that a stop never needs a free fd slot (it may come when there is none).
    /// </summary>
    private static readonly int s_placeholderFd = SocketNative.OpenNull();

    // What closes the listener: the Socket it came as, or its handle alone (the service hands over raw handles).
    private readonly IDisposable _listener;
    private readonly TcpAcceptor[] _acceptors;
    private readonly Lock _listenerGate = new();
    private Task[] _stops = [];
    private Task[]? _drains;
    private bool _listenerClosed;
    private int _active;
    private int _paused;
    private long _limitLoggedAt;

    public TcpProxyBinding(Socket listener, ProxyTarget target, ProxyBindingOptions options, ILogger logger, TimeProvider time, IReadOnlyList<EventLoop> loops)
        : this(listener.SafeHandle, listener, listener.LocalEndPoint!, target, options, logger, time, loops)
    {
    }

    /// <param name="handle">The bound socket.</param>
    /// <param name="owner">What closes it (a Socket around it, or the handle itself).</param>
    public TcpProxyBinding(SafeSocketHandle handle, IDisposable owner, EndPoint local, ProxyTarget target, ProxyBindingOptions options, ILogger logger, TimeProvider time, IReadOnlyList<EventLoop> loops)
        : base(local, target, options, logger, time)
    {
        _listener = owner;
        ListenFd = (int)handle.DangerousGetHandle();

        // Backlog 4096 (the kernel caps it at net.core.somaxconn); accepted sockets inherit TCP_NODELAY from the
        // listener (one setsockopt here instead of one per connection); non-blocking, as accept4 runs on the loops and
        // must say EAGAIN, not wait.
        if (SocketNative.Listen(ListenFd, 4096) is int error and < 0)
        {
            throw new SocketException(-error);
        }

        TargetAddress = new byte[SocketNative.SockAddrSize];
        TargetAddressLength = SocketNative.WriteSockAddr(target.Endpoint, TargetAddress);
        if (target.IPv4ClientsEndpoint is { } v4)
        {
            IPv4ClientsTargetAddress = new byte[SocketNative.SockAddrSize];
            IPv4ClientsTargetAddressLength = SocketNative.WriteSockAddr(v4, IPv4ClientsTargetAddress);
        }

        // Capped so that a timestamp plus this cannot overflow (a DialTimeout of TimeSpan.MaxValue means "never").
        DialTimeoutTicks = (long)Math.Min(options.DialTimeout.TotalSeconds * time.TimestampFrequency, long.MaxValue / 4);
        _acceptors = [.. loops.Select(l => new TcpAcceptor(this, l))];
        foreach (TcpAcceptor a in _acceptors)
        {
            a.Loop.Post(a.Start);
        }

        ProxyLog.Started(Logger, Protocol, Listen, target.Endpoint);
    }

    public override string Protocol => "tcp";

    internal int ListenFd { get; }

    internal byte[] TargetAddress { get; }

    internal int TargetAddressLength { get; }

    /// <summary>The sockaddr of <see cref="ProxyTarget.IPv4ClientsEndpoint"/> (a dual-stack listener), or null.</summary>
    internal byte[]? IPv4ClientsTargetAddress { get; }

    internal int IPv4ClientsTargetAddressLength { get; }

    /// <summary><see cref="ProxyBindingOptions.DialTimeout"/> in ticks of the binding's TimeProvider.</summary>
    internal long DialTimeoutTicks { get; }

    /// <summary>This binding's presence on each loop (tests look at their state through the loop).</summary>
    internal IReadOnlyList<TcpAcceptor> Acceptors => _acceptors;

    /// <summary>Acceptors that stopped watching the listener because the connection bound was reached.</summary>
    internal int PausedAcceptors => Volatile.Read(ref _paused);

    private protected override Task BeginStop()
    {
        // Every loop lets go of the listener and resets its connections; normally only then is the fd closed, so no
        // loop can be accepting on a closed, perhaps reused, fd number.
        _stops = [.. _acceptors.Select(a => a.Loop.InvokeAsync(a.Stop))];
        return ReleaseAsync();
    }

    /// <summary>
    /// Some loop did not run its Stop in time (stuck in a handler, or starved). The port must not wait for it: the
    /// listener's socket is closed now. Not by closing its fd number, though, which the next socket the process
    /// opens could get, while the stuck loop may still hold an event for it (epoll_wait returned it before the close)
    /// or a ResumeIfPaused or tick that re-registers it. dup3 puts /dev/null behind the number instead: the socket's
    /// last reference goes (the kernel closes it and drops its epoll registrations; the port is free unless that
    /// loop's connections still sit on it), and the number stays ours until every loop has answered, when
    /// <see cref="ReleaseAsync"/> closes it. Before that, a late accept4 on it gets ENOTSOCK and a late epoll_ctl
    /// EPERM, and both are skipped anyway: the acceptor reads Stopping before each (set, with a full fence, before
    /// this runs). What is left is a loop that read Stopping as false just before the stop and reaches its accept4
    /// only after this: it meets /dev/null, not another socket. Never reclaimed is that one fd (and what the stuck
    /// loop holds), if the loop never answers.
    /// </summary>
    private protected override IReadOnlyList<string> Abandon()
    {
        lock (_listenerGate)
        {
            // Checked under the gate: a loop that answered just now may have had ReleaseAsync close the number, and
            // dup3 onto a closed number would take it (or close whatever socket took it since).
            if (!_listenerClosed)
            {
                if (s_placeholderFd < 0 || SocketNative.Supplant(ListenFd, s_placeholderFd) < 0)
                {
                    // Without /dev/null (a sandbox without it) or dup3, close it plainly: the Stopping checks still
                    // keep the acceptors away from the number; only the window described above is open again.
                    CloseListener();
                }
            }
        }

        Task[]? drains = Volatile.Read(ref _drains);
        return [.. _acceptors.Where((a, i) => !_stops[i].IsCompleted || (drains is not null && !drains[i].IsCompleted)).Select(a => a.Loop.Name)];
    }

    private async Task ReleaseAsync()
    {
        await Task.WhenAll(_stops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // A loop may have handed a connection to another just before its own Stop ran, and after the other's: it waits
        // in that loop's queue, to be reset there, and holds the port meanwhile. Every such hand-off was posted
        // before the last Stop ran, so one more pass over every loop, queued now, comes after all of them.
        Task[] drains = [.. _acceptors.Select(a => a.Loop.InvokeAsync(static () => { }))];
        Volatile.Write(ref _drains, drains);
        await Task.WhenAll(drains).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        for (int i = 0; i < _stops.Length; i++)
        {
            if (_stops[i].Exception is { } e)
            {
                // A bug in Stop; the loop has gone on (it answered), so the listener can still be closed.
                ProxyLog.StopFailed(Logger, Protocol, Listen, Target.Endpoint, _acceptors[i].Loop.Name, e.GetBaseException());
            }
        }

        lock (_listenerGate)
        {
            CloseListener();
        }
    }

    private void CloseListener()
    {
        if (!_listenerClosed)
        {
            _listenerClosed = true;
            _listener.Dispose();
        }
    }

    /// <summary>
    /// The acceptor a connection accepted by <paramref name="accepting"/> should live on: its own, unless another loop
    /// has at least <see cref="TcpAcceptor.HandOffMargin"/> fewer connections and is not stuck in a pass (a stuck loop
    /// accepts nothing itself, and must not be given what it cannot serve). Two other loops are looked at, taken in
    /// turn, not all of them: the power of two choices balances nearly as well, and on a 64-CPU machine an accept does
    /// not read 64 counters that the other loops keep writing. Any loop thread.
    /// </summary>
    internal TcpAcceptor HomeFor(TcpAcceptor accepting)
    {
        TcpAcceptor home = accepting;
        int least = accepting.Loop.TcpConnections - TcpAcceptor.HandOffMargin + 1;
        int n = _acceptors.Length;
        long now = 0;
        for (int c = 0; c < Math.Min(2, n - 1); c++)
        {
            TcpAcceptor a = _acceptors[accepting.NextCandidate(n)];
            int load = a.Loop.TcpConnections;
            if (load < least && a.Loop.IsResponsive(now == 0 ? now = Environment.TickCount64 : now))
            {
                home = a;
                least = load;
            }
        }

        return home;
    }

    /// <summary>Takes a connection slot, or says the bound is reached.</summary>
    internal bool TryTakeSlot()
    {
        if (Interlocked.Increment(ref _active) <= Options.MaxConnections)
        {
            return true;
        }

        Interlocked.Decrement(ref _active);
        return false;
    }

    /// <summary>Gives a slot back; acceptors paused at the bound start watching the listener again.</summary>
    internal void ReleaseSlot()
    {
        Interlocked.Decrement(ref _active);
        if (Volatile.Read(ref _paused) > 0)
        {
            ResumeAcceptors();
        }
    }

    /// <summary>An acceptor stopped at the bound. It re-checks after saying so, which closes the race with <see cref="ReleaseSlot"/>.</summary>
    internal void AcceptorPaused()
    {
        Interlocked.Increment(ref _paused);
        Counters.Error(ProxyErrorKind.ConnectionLimit);
        long now = Environment.TickCount64, last = Volatile.Read(ref _limitLoggedAt);
        if ((last == 0 || now - last >= 60_000) && Interlocked.CompareExchange(ref _limitLoggedAt, now, last) == last)
        {
            ProxyLog.ConnectionLimitReached(Logger, Protocol, Listen, Target.Endpoint, Options.MaxConnections);
        }
    }

    internal void AcceptorResumed() => Interlocked.Decrement(ref _paused);

    internal bool HasFreeSlot => Volatile.Read(ref _active) < Options.MaxConnections;

    private void ResumeAcceptors()
    {
        foreach (TcpAcceptor a in _acceptors)
        {
            a.Loop.Post(a.ResumeIfPaused);
        }
    }
}
