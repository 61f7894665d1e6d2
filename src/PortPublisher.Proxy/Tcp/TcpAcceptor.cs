using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// One binding's presence on one event loop: accepts from the shared listener when the kernel wakes this loop, owns the
/// connections that live here, and enforces their dial timeout (a FIFO: one binding's deadlines come in order).
/// A connection lives on the loop that accepted it unless one of the loops it compares with
/// (<see cref="TcpProxyBinding.HomeFor"/>) has <see cref="HandOffMargin"/> fewer connections: then it is handed there. The kernel wakes the first idle waiter of an EPOLLEXCLUSIVE
/// listener, which is always the same loop while the machine is lightly loaded, so without this the streams of one
/// client (iperf3 -P 4, a pool of keep-alive connections opened at once) would all share one thread while the other
/// CPUs idle. Under a steady stream of short connections both loops accept and stay even, and nothing is handed over.
/// Loop thread only, except where noted.
/// </summary>
internal sealed class TcpAcceptor : IEventHandler, ILoopTicker
{
    /// <summary>Connections accepted per wake-up before other fds get their turn.</summary>
    private const int AcceptBatch = 32;

    /// <summary>After accept fails for want of fds or memory, the listener is left alone this long.</summary>
    private const int AcceptBackoffMs = 10;

    /// <summary>
    /// How many more connections this loop must have than another before a new one is handed there: 2, so that a
    /// difference of one (the connection that just closed on the other loop) moves nothing and costs no cross-thread post.
    /// </summary>
    internal const int HandOffMargin = 2;

    private readonly HashSet<TcpConnection> _connections = [];
    private readonly Queue<TcpConnection> _dialing = new();
    private long _token;
    private int _candidate;
    private bool _watching;
    private bool _pausedAtBound;
    private long _resumeAt;
    private bool _stopped;

    public TcpAcceptor(TcpProxyBinding binding, EventLoop loop)
    {
        Binding = binding;
        Loop = loop;
    }

    public TcpProxyBinding Binding { get; }

    public EventLoop Loop { get; }

    public void Start()
    {
        if (!Binding.Stopping)
        {
            Watch();
        }
    }

    /// <summary>Stops accepting and resets every connection of this binding on this loop.</summary>
    public void Stop()
    {
        _stopped = true;
        Unwatch();
        Loop.Disarm(this);
        foreach (TcpConnection c in _connections.ToArray())
        {
            c.Abort(PumpOutcome.Canceled);
        }

        _dialing.Clear();
    }

    public void ResumeIfPaused()
    {
        if (_pausedAtBound && !_stopped && Binding.HasFreeSlot)
        {
            _pausedAtBound = false;
            Binding.AcceptorResumed();
            Watch();
        }
    }

    public void OnEvents(uint events, int tag)
    {
        Span<byte> peer = stackalloc byte[SocketNative.SockAddrSize];
        for (int i = 0; i < AcceptBatch && _watching; i++)
        {
            // Before every accept4, not once per wake-up: a stop that timed out replaces the listener behind its fd
            // number (TcpProxyBinding.Abandon), and this loop may be running an event epoll_wait returned before that.
            if (Binding.Stopping)
            {
                return;
            }

            if (!Binding.TryTakeSlot())
            {
                PauseAtBound();
                return;
            }

            int fd = SocketNative.Accept(Binding.ListenFd, peer);
            if (fd < 0)
            {
                Binding.ReleaseSlot();
                if (fd == -SocketNative.EAGAIN)
                {
                    return; // another loop took it, or the backlog is empty
                }

                if (fd == -SocketNative.ECONNABORTED)
                {
                    continue; // the client gave up while it waited in the backlog
                }

                if (Binding.Stopping)
                {
                    return; // ENOTSOCK from the placeholder a timed-out stop put behind the number: not an accept failure
                }

                // EMFILE, ENFILE, ENOBUFS: the listener stays readable, so leave it alone briefly instead of spinning.
                Binding.Counters.Error(ProxyErrorKind.AcceptFailed);
                ProxyLog.AcceptFailed(Binding.Logger, Binding.Listen, new System.ComponentModel.Win32Exception(-fd).Message);
                Unwatch();
                BackOff();
                return;
            }

            TcpAcceptor home = Binding.HomeFor(this);
            TcpConnection c;
            try
            {
                c = new TcpConnection(home, fd, peer);
            }
            catch
            {
                // A bug reading the peer's address (PROXY v2 or debug logging read it): not a leaked fd and slot on top.
                SocketNative.CloseWithReset(fd);
                Binding.ReleaseSlot();
                throw;
            }

            home.Loop.TcpConnectionAdded();
            if (home == this)
            {
                Adopt(c);
            }
            else
            {
                home.Loop.Post(() => home.Adopt(c));
            }
        }
    }

    /// <summary>
    /// The index of the next acceptor <see cref="TcpProxyBinding.HomeFor"/> looks at, of <paramref name="count"/>, never this
    /// one's own: the others in turn (loop thread only).
    /// </summary>
    internal int NextCandidate(int count)
    {
        _candidate = (_candidate + 1) % count;
        if (Binding.Acceptors[_candidate] == this)
        {
            _candidate = (_candidate + 1) % count;
        }

        return _candidate;
    }

    /// <summary>Connections living on this loop for this binding (loop thread only; tests read it through the loop).</summary>
    internal int Connections => _connections.Count;

    /// <summary>Takes over a connection accepted for this loop, here or on another loop (counted on this one already).</summary>
    private void Adopt(TcpConnection c)
    {
        if (_stopped || Binding.Stopping)
        {
            // Handed over just before this loop ran its Stop: it would have been reset there, so it is reset here.
            c.Refuse();
            Loop.TcpConnectionRemoved();
            Binding.ReleaseSlot();
            return;
        }

        _connections.Add(c);
        c.Start();
    }

    /// <summary>Called by a connection once it is connected or gone.</summary>
    public void Dialing(TcpConnection c)
    {
        _dialing.Enqueue(c);
        Loop.Arm(this);
    }

    /// <summary>Connections whose dial deadline this acceptor still watches (some may have connected since).</summary>
    public int DialsWatched => _dialing.Count;

    /// <summary>Called by a connection once both its sockets are closed.</summary>
    public void Closed(TcpConnection c)
    {
        if (_connections.Remove(c))
        {
            Loop.TcpConnectionRemoved();
            Binding.ReleaseSlot();
        }
    }

    /// <summary>Dial deadlines are read on the binding's clock (its TimeProvider); the accept back-off on the loop's.</summary>
    public bool Tick(long nowMs)
    {
        long now = _dialing.Count > 0 ? Binding.Time.GetTimestamp() : 0;
        while (_dialing.TryPeek(out TcpConnection? c))
        {
            if (c.IsDialing && c.DialDeadline > now)
            {
                break;
            }

            _dialing.Dequeue();
            if (c.IsDialing)
            {
                c.DialTimedOut();
            }
        }

        if (_resumeAt != 0 && nowMs >= _resumeAt && !_stopped)
        {
            _resumeAt = 0;
            Watch();
        }

        return _dialing.Count > 0 || _resumeAt != 0;
    }

    private void PauseAtBound()
    {
        Unwatch();
        _pausedAtBound = true;
        Binding.AcceptorPaused();
        ResumeIfPaused(); // a slot freed between the check and the pause would otherwise never wake this acceptor
    }

    private void Watch()
    {
        // Stopping too, not only _stopped: a ResumeIfPaused or tick that runs before this loop reaches its Stop must
        // not register the listener's fd number, which a timed-out stop may have given to a placeholder.
        if (_watching || _stopped || Binding.Stopping)
        {
            return;
        }

        // Level-triggered: a connection left in the backlog wakes a loop again. EPOLLEXCLUSIVE: only one loop per connection.
        long token = Loop.Register(Binding.ListenFd, SocketNative.EPOLLIN | SocketNative.EPOLLEXCLUSIVE, this, 0);
        if (token == -SocketNative.EINVAL)
        {
            token = Loop.Register(Binding.ListenFd, SocketNative.EPOLLIN, this, 0); // kernels before 4.5: every loop wakes
        }

        if (token > 0)
        {
            _token = token;
            _watching = true;
            return;
        }

        // Not watched, this loop accepts nothing for the binding; the others still may. Say so, and retry on the next tick.
        Binding.Counters.Error(ProxyErrorKind.AcceptFailed);
        ProxyLog.AcceptFailed(Binding.Logger, Binding.Listen, new System.ComponentModel.Win32Exception((int)-token).Message);
        BackOff();
    }

    /// <summary>Leaves the listener alone for <see cref="AcceptBackoffMs"/>; the tick watches it again.</summary>
    private void BackOff()
    {
        _resumeAt = Environment.TickCount64 + AcceptBackoffMs;
        if (!_stopped)
        {
            Loop.Arm(this);
        }
    }

    private void Unwatch()
    {
        if (_watching)
        {
            Loop.Unregister(_token, Binding.ListenFd);
            _watching = false;
        }
    }
}
