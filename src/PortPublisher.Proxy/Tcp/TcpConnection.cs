using System.Net;
using Microsoft.Extensions.Logging;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// One proxied connection, a state machine driven by edge-triggered epoll events on its loop: (1) take a ready socket
/// made inside the target's namespace and connect it; the client is reset if that fails or outlasts the dial timeout;
/// (2) optionally send a PROXY v2 header; (3) relay both directions, a FIN forwarded as a FIN while the other direction
/// goes on; a failure on either side resets both (RST), so an error never turns into a clean EOF; (4) close both.
/// Readiness is tracked per side: a side is read until it says EAGAIN (or a short read, unless the peer already shut
/// down), written until it says EAGAIN, and then the next edge is awaited. Loop thread only.
/// </summary>
internal sealed class TcpConnection : IEventHandler
{
    /// <summary>
    /// Bytes a direction copies through user space before it switches to splice: a pipe pair costs more syscalls than
    /// a short request/response does, so zero-copy starts only once a direction turns out to carry bulk data.
    /// </summary>
    public const long SpliceThreshold = 256 * 1024;

    private const int Client = 0;
    private const int Target = 1;
    private const uint Events = SocketNative.EPOLLIN | SocketNative.EPOLLOUT | SocketNative.EPOLLRDHUP | SocketNative.EPOLLET;

    private readonly TcpAcceptor _acceptor;
    private SidePair<int> _fd;
    private SidePair<long> _token;
    private SidePair<bool> _readable;
    private SidePair<bool> _writable;
    private SidePair<bool> _peerShutDown;
    private readonly RelayDirection _up = new(Client, Target);
    private readonly RelayDirection _down = new(Target, Client);
    private readonly IPEndPoint? _clientEndPoint;

    /// <summary>An IPv4 client of a dual-stack listener: it goes to the IPv4 half's target.</summary>
    private readonly bool _viaIPv4Target;
    private State _state;

    public TcpConnection(TcpAcceptor acceptor, int clientFd, ReadOnlySpan<byte> clientAddress)
    {
        _acceptor = acceptor;
        _fd[Client] = clientFd;
        _fd[Target] = -1;
        _viaIPv4Target = acceptor.Binding.IPv4ClientsTargetAddress is not null && SocketNative.IsIPv4Mapped(clientAddress);
        if (acceptor.Binding.Options.ProxyProtocolV2 || acceptor.Binding.Logger.IsEnabled(LogLevel.Debug))
        {
            _clientEndPoint = SocketNative.ReadSockAddr(clientAddress);
        }
    }

    private enum State
    {
        Starting,
        Dialing,
        Relaying,
        Closed,
    }

    public bool IsDialing => _state == State.Dialing;

    /// <summary>When the dial times out, as a timestamp of the binding's TimeProvider.</summary>
    public long DialDeadline { get; private set; }

    private TcpProxyBinding Binding => _acceptor.Binding;

    private IPEndPoint TargetEndPoint => _viaIPv4Target ? Binding.Target.IPv4ClientsEndpoint! : Binding.Target.Endpoint;

    public void Start()
    {
        Binding.Counters.Opened();
        ValueTask<int> socket;
        try
        {
            socket = Binding.Target.Sockets.CreateTcpAsync(TargetEndPoint.AddressFamily);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException or Netlink.NetlinkException)
        {
            DialFailed(e.Message);
            return;
        }

        if (socket.IsCompletedSuccessfully)
        {
            Dial(socket.Result);
            return;
        }

        // The namespace's stock ran dry: the socket comes from its thread, and the dial continues on this loop.
        _ = socket.AsTask().ContinueWith(
            t => _acceptor.Loop.Post(() =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    Dial(t.Result);
                }
                else
                {
                    DialFailed(t.Exception?.InnerException?.Message ?? "canceled");
                }
            }),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public void OnEvents(uint events, int tag)
    {
        const uint Failure = SocketNative.EPOLLERR | SocketNative.EPOLLHUP;
        if (_state == State.Dialing && tag == Target)
        {
            if ((events & Failure) != 0)
            {
                int err = SocketNative.PendingError(_fd[Target]);
                DialFailed(new System.ComponentModel.Win32Exception(err != 0 ? err : 111 /* ECONNREFUSED */).Message);
                return;
            }

            if ((events & SocketNative.EPOLLOUT) == 0)
            {
                return;
            }

            Connected();
        }

        if ((events & (SocketNative.EPOLLIN | SocketNative.EPOLLRDHUP | Failure)) != 0)
        {
            _readable[tag] = true;
        }

        if ((events & (SocketNative.EPOLLRDHUP | SocketNative.EPOLLHUP)) != 0)
        {
            _peerShutDown[tag] = true;
        }

        if ((events & (SocketNative.EPOLLOUT | Failure)) != 0)
        {
            _writable[tag] = true;
        }

        if ((events & SocketNative.EPOLLERR) != 0 && _state == State.Relaying && SocketNative.PendingError(_fd[tag]) != 0)
        {
            // A reset can arrive on a side whose direction is already finished, where no read would see it.
            Fail(tag, tag == Client ? _up : _down, PumpOutcome.ReadFailed);
            return;
        }

        if (_state == State.Relaying)
        {
            Relay();
        }
    }

    /// <summary>Resets both sides (SO_LINGER 0, then close): the peers see RST.</summary>
    public void Abort(PumpOutcome outcome)
    {
        if (_state == State.Closed)
        {
            return;
        }

        if (!_up.FinSent)
        {
            _up.Outcome = outcome;
        }

        if (!_down.FinSent)
        {
            _down.Outcome = outcome;
        }

        Finish(reset: true);
    }

    public void DialTimedOut() => DialFailed("timed out");

    /// <summary>Resets a client whose connection was never started (its binding stopped while it was handed over).</summary>
    public void Refuse()
    {
        _state = State.Closed;
        SocketNative.CloseWithReset(_fd[Client]);
        _fd[Client] = -1;
    }

    private void Dial(int fd)
    {
        if (_state == State.Closed)
        {
            SocketNative.Close(fd);
            return;
        }

        if (fd < 0)
        {
            DialFailed(new System.ComponentModel.Win32Exception(-fd).Message);
            return;
        }

        _fd[Target] = fd;
        int r = _viaIPv4Target
            ? SocketNative.Connect(fd, Binding.IPv4ClientsTargetAddress.AsSpan(0, Binding.IPv4ClientsTargetAddressLength))
            : SocketNative.Connect(fd, Binding.TargetAddress.AsSpan(0, Binding.TargetAddressLength));
        if (r < 0 && r != -SocketNative.EINPROGRESS)
        {
            DialFailed(new System.ComponentModel.Win32Exception(-r).Message);
            return;
        }

        EventLoop loop = _acceptor.Loop;
        _token[Client] = loop.Register(_fd[Client], Events, this, Client);
        _token[Target] = loop.Register(fd, Events, this, Target);
        if (_token[Client] < 0 || _token[Target] < 0)
        {
            DialFailed(new System.ComponentModel.Win32Exception((int)-Math.Min(_token[Client], _token[Target])).Message);
            return;
        }

        _state = State.Dialing;
        DialDeadline = Binding.Time.GetTimestamp() + Binding.DialTimeoutTicks;
        _acceptor.Dialing(this);
    }

    private void Connected()
    {
        _state = State.Relaying;
        if (Binding.Options.ProxyProtocolV2 && _clientEndPoint is not null)
        {
            Span<byte> local = stackalloc byte[SocketNative.SockAddrSize];
            if (SocketNative.LocalAddress(_fd[Client], local) == 0 && SocketNative.ReadSockAddr(local) is { } localEndPoint)
            {
                _up.Keep(ProxyProtocolV2.Header(_clientEndPoint, localEndPoint, stream: true));
            }
        }
    }

    private void DialFailed(string error)
    {
        Binding.Counters.Error(ProxyErrorKind.DialFailed);
        ProxyLog.DialFailed(Binding.Logger, TargetEndPoint, _clientEndPoint, error);
        Abort(PumpOutcome.WriteFailed);
    }

    private void Relay()
    {
        if (!Pump(_up) || !Pump(_down))
        {
            return; // failed and reset
        }

        if (_up.FinSent && _down.FinSent)
        {
            Finish(reset: false);
        }
    }

    /// <summary>Moves what it can in one direction; false once the connection has failed (and been reset).</summary>
    private bool Pump(RelayDirection d)
    {
        int from = d.From, to = d.To;
        while (true)
        {
            if (d.HasPending)
            {
                if (!_writable[to])
                {
                    return true;
                }

                int n = d.Pipe is { Pending: > 0 } pipe
                    ? SocketNative.Splice(pipe.ReadFd, _fd[to], pipe.Pending)
                    : SocketNative.Send(_fd[to], d.Backlog.AsSpan(d.BacklogOffset, d.BacklogCount));
                if (n == -SocketNative.EAGAIN)
                {
                    _writable[to] = false;
                    return true;
                }

                if (n < 0)
                {
                    return Fail(to, d, PumpOutcome.WriteFailed);
                }

                Count(d, n);
                if (d.Pipe is { Pending: > 0 } p)
                {
                    p.Pending -= n;
                    _writable[to] = p.Pending == 0;
                }
                else
                {
                    d.BacklogOffset += n;
                    d.BacklogCount -= n;
                    if (d.BacklogCount > 0)
                    {
                        _writable[to] = false; // a short write: the send buffer is full
                    }
                    else
                    {
                        d.ReleaseBacklog();
                    }
                }

                continue;
            }

            if (d.Eof)
            {
                if (!d.FinSent)
                {
                    d.FinSent = true;

                    // The last direction to end needs no shutdown: the close that follows sends the same FIN.
                    RelayDirection other = d == _up ? _down : _up;
                    if (!other.FinSent && SocketNative.ShutdownWrite(_fd[to]) < 0)
                    {
                        return Fail(to, d, PumpOutcome.WriteFailed);
                    }
                }

                return true;
            }

            if (!_readable[from])
            {
                return true;
            }

            bool splice = d.Moved >= SpliceThreshold && Binding.Options.ZeroCopy && !d.NoSplice;
            if (splice && d.Pipe is null)
            {
                // Made only now, not at connect: an idle or chatty connection costs two fds, not six.
                d.Pipe = SplicePipe.TryCreate(out _);
                d.NoSplice = d.Pipe is null;
                splice = !d.NoSplice;
            }

            byte[] scratch = _acceptor.Loop.Scratch;
            int want = splice ? SplicePipe.ChunkSize : scratch.Length;
            int got = splice
                ? SocketNative.Splice(_fd[from], d.Pipe!.WriteFd, want)
                : SocketNative.Receive(_fd[from], scratch);
            if (got == -SocketNative.EAGAIN)
            {
                _readable[from] = false;
                return true;
            }

            if (got < 0)
            {
                return Fail(from, d, PumpOutcome.ReadFailed);
            }

            if (got == 0)
            {
                d.Eof = true;
                continue;
            }

            d.Moved += got;
            if (got < want && !_peerShutDown[from])
            {
                // A short read drained the socket: wait for the next edge instead of paying for a read that says
                // EAGAIN. Not once the peer has shut down: its FIN may already be queued behind this data, with no edge to come.
                _readable[from] = false;
            }

            // The peer's FIN was in (EPOLLRDHUP: the kernel takes a FIN only in order, after all its data) and a short
            // read emptied the queue: this was the last of it, and the read that would say 0 is not needed. A short
            // request/response connection saves one recv per direction (4 -> 2 per connection). Copies only: a
            // splice can also come up short because the pipe is.
            bool drained = !splice && got < want && _peerShutDown[from];

            if (splice)
            {
                d.Pipe!.Pending = got;
                continue;
            }

            int sent = _writable[to] ? SocketNative.Send(_fd[to], scratch.AsSpan(0, got)) : -SocketNative.EAGAIN;
            if (sent == -SocketNative.EAGAIN)
            {
                sent = 0;
            }
            else if (sent < 0)
            {
                return Fail(to, d, PumpOutcome.WriteFailed);
            }

            if (sent > 0)
            {
                Count(d, sent);
            }

            if (sent < got)
            {
                _writable[to] = false;
                d.Keep(scratch.AsSpan(sent, got - sent));
            }

            if (drained)
            {
                d.Eof = true; // forwarded as a FIN once what is kept has been written
            }
        }
    }

    private void Count(RelayDirection d, int n)
    {
        if (d.To == Target)
        {
            Binding.Counters.AddToTarget(n);
        }
        else
        {
            Binding.Counters.AddToClient(n);
        }
    }

    /// <summary>A side failed: count it, reset both. Always false (the caller's "go on" answer).</summary>
    private bool Fail(int side, RelayDirection d, PumpOutcome outcome)
    {
        Binding.Counters.Error(side == Client ? ProxyErrorKind.ClientFailed : ProxyErrorKind.TargetFailed);
        d.Outcome = outcome;
        Abort(outcome);
        return false;
    }

    private void Finish(bool reset)
    {
        _state = State.Closed;
        EventLoop loop = _acceptor.Loop;
        for (int side = 0; side < 2; side++)
        {
            loop.Unregister(_token[side], -1); // closing the fd removes it from epoll
            int fd = _fd[side];
            _fd[side] = -1;
            if (fd >= 0)
            {
                if (reset)
                {
                    SocketNative.CloseWithReset(fd);
                }
                else
                {
                    SocketNative.Close(fd);
                }
            }
        }

        _up.Release();
        _down.Release();
        Binding.Counters.Closed();
        _acceptor.Closed(this);
        ProxyLog.ConnectionEnded(Binding.Logger, _clientEndPoint, TargetEndPoint, _up.Outcome, _down.Outcome);
    }
}
