using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// A TCP binding. Its listening socket is registered with every event loop (EPOLLEXCLUSIVE: the kernel wakes one),
/// and a connection lives on the loop that accepted it. At most <see cref="ProxyBindingOptions.MaxConnections"/>
/// relay at once; at the bound a loop stops watching the listener and the rest wait in the kernel's backlog.
/// </summary>
internal sealed class TcpProxyBinding : ProxyBinding
{
    private readonly Socket _listener;
    private readonly TcpAcceptor[] _acceptors;
    private int _active;
    private int _paused;
    private int _disposed;

    public TcpProxyBinding(Socket listener, ProxyTarget target, ProxyBindingOptions options, ILogger logger)
        : base(listener.LocalEndPoint!, target, options)
    {
        _listener = listener;
        Logger = logger;
        _listener.Listen(4096); // the kernel caps it at net.core.somaxconn

        // Accepted sockets inherit TCP_NODELAY from the listener: one setsockopt here instead of one per connection.
        _listener.NoDelay = true;
        _listener.Blocking = false; // accept4 on it runs on the loops and must say EAGAIN, not wait
        ListenFd = (int)_listener.SafeHandle.DangerousGetHandle();
        TargetAddress = new byte[SocketNative.SockAddrSize];
        TargetAddressLength = SocketNative.WriteSockAddr(target.Endpoint, TargetAddress);
        IReadOnlyList<EventLoop> loops = EventLoop.Group;
        _acceptors = [.. loops.Select(l => new TcpAcceptor(this, l))];
        foreach (TcpAcceptor a in _acceptors)
        {
            a.Loop.Post(a.Start);
        }

        ProxyLog.Started(Logger, Protocol, Listen, target.Endpoint);
    }

    public override string Protocol => "tcp";

    internal ILogger Logger { get; }

    internal int ListenFd { get; }

    internal byte[] TargetAddress { get; }

    internal int TargetAddressLength { get; }

    internal bool Stopping => Volatile.Read(ref _disposed) != 0;

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // Every loop lets go of the listener and resets its connections; only then is the fd closed (the port is
        // free when this returns), so no loop can be accepting on a closed, perhaps reused, fd number.
        await Task.WhenAll(_acceptors.Select(a => a.Loop.InvokeAsync(a.Stop)));
        _listener.Dispose();
        ProxyLog.Stopped(Logger, Protocol, Listen, Target.Endpoint);
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
    internal void AcceptorPaused() => Interlocked.Increment(ref _paused);

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
