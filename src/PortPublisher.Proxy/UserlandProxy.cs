using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PortPublisher.Proxy.Internal;
using PortPublisher.Proxy.Tcp;
using PortPublisher.Proxy.Udp;

namespace PortPublisher.Proxy;

/// <summary>
/// The userland proxy: one process, any number of bindings, never a process or thread per port or connection.
/// Each binding takes a socket the caller already bound (the service reserves ports before anything else).
/// </summary>
public sealed class UserlandProxy : IAsyncDisposable
{
    /// <summary>
    /// How long <see cref="StopAsync(ProxyBinding)"/>, <see cref="ProxyBinding.DisposeAsync"/> and
    /// <see cref="DisposeAsync"/> wait for a binding's event loops and receive loops to let go of it. A healthy loop
    /// answers within one pass (microseconds to milliseconds); 5 s is far beyond that and still well inside systemd's
    /// default 90 s stop timeout.
    /// </summary>
    public static readonly TimeSpan DefaultStopTimeout = TimeSpan.FromSeconds(5);

    private static long s_stopTimeouts;

    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly IReadOnlyList<EventLoop>? _loops;
    private readonly ConcurrentDictionary<ProxyBinding, byte> _bindings = new();
    private int _nextLoop;

    public UserlandProxy(ILogger<UserlandProxy>? logger = null, TimeProvider? time = null)
        : this(logger, time, null)
    {
    }

    /// <summary>With event loops of the caller's own instead of the process's shared ones (tests).</summary>
    internal UserlandProxy(ILogger<UserlandProxy>? logger, TimeProvider? time, IReadOnlyList<EventLoop>? loops)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _loops = loops;
    }

    /// <summary>
    /// Stops, in this process, whose deadline passed before every part of the binding confirmed (each logged as an
    /// error). Anything above 0 means an event loop or receive loop was stuck: a bug worth a metric and an alert.
    /// </summary>
    public static long StopTimeouts => Interlocked.Read(ref s_stopTimeouts);

    /// <summary>Bindings running now.</summary>
    public IReadOnlyCollection<ProxyBinding> Bindings => [.. _bindings.Keys];

    /// <summary>Starts relaying from <paramref name="listener"/> (bound, TCP or UDP) to <paramref name="target"/>. The binding owns the socket.</summary>
    public ProxyBinding Start(Socket listener, ProxyTarget target, ProxyBindingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new ProxyBindingOptions();
        if (listener.LocalEndPoint is null)
        {
            throw new ArgumentException("the listener socket must be bound", nameof(listener));
        }

        ProxyBinding binding = listener.SocketType switch
        {
            SocketType.Stream => new TcpProxyBinding(listener, target, options, _logger, _time, Loops(options)),
            SocketType.Dgram => new UdpProxyBinding(listener, target, options, _logger, _time, _loops ?? EventLoop.Group), // always one loop of them
            _ => throw new ArgumentException($"cannot proxy {listener.SocketType} sockets", nameof(listener)),
        };
        _bindings[binding] = 0;
        return binding;
    }

    /// <summary>
    /// Starts relaying TCP from a bound socket given as its handle (the binding owns it from then on), without a
    /// <see cref="Socket"/> around it: what a service reserving thousands of ports hands over.
    /// </summary>
    /// <param name="listener">A bound TCP socket, not yet listening.</param>
    /// <param name="local">The address it is bound to.</param>
    public ProxyBinding StartTcp(SafeSocketHandle listener, IPEndPoint local, ProxyTarget target, ProxyBindingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(local);
        ArgumentNullException.ThrowIfNull(target);
        options ??= new ProxyBindingOptions();
        var binding = new TcpProxyBinding(listener, listener, local, target, options, _logger, _time, Loops(options));
        _bindings[binding] = 0;
        return binding;
    }

    /// <summary>Stops a binding as <see cref="StopAsync(ProxyBinding, TimeSpan)"/> does, within <see cref="DefaultStopTimeout"/>.</summary>
    public async ValueTask StopAsync(ProxyBinding binding) => await StopAsync(binding, DefaultStopTimeout);

    /// <summary>
    /// Stops a binding: closes its listener and all its connections or flows. True when every part of it confirmed
    /// within <paramref name="timeout"/>. False when the deadline passed first: the listener is closed all the same
    /// (no new client reaches it; for UDP, and for TCP unless the stuck loop still holds connections on it, the port
    /// can be bound again at once), the stuck parts are logged and counted in <see cref="StopTimeouts"/>, and what
    /// they hold is released when they answer. A binding already stopped answers as its first stop did.
    /// </summary>
    public async ValueTask<bool> StopAsync(ProxyBinding binding, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(binding);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeout, TimeSpan.Zero);
        _ = _bindings.TryRemove(binding, out _);
        return await binding.StopAsync(timeout);
    }

    /// <summary>
    /// Stops every binding at once, all under one <see cref="DefaultStopTimeout"/> (not one each, one after the other:
    /// the process's exit, e.g. on SIGTERM, waits for this).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        ProxyBinding[] bindings = [.. _bindings.Keys];
        await Task.WhenAll(bindings.Select(b => StopAsync(b, DefaultStopTimeout).AsTask()));
    }

    internal static void CountStopTimeout() => Interlocked.Increment(ref s_stopTimeouts);

    private IReadOnlyList<EventLoop> Loops(ProxyBindingOptions options)
    {
        IReadOnlyList<EventLoop> all = _loops ?? EventLoop.Group;
        return options.SingleLoop && all.Count > 1 ? [all[(int)((uint)Interlocked.Increment(ref _nextLoop) % (uint)all.Count)]] : all;
    }
}
