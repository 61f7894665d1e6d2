using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PortPublisher.Proxy.Tcp;
using PortPublisher.Proxy.Udp;

namespace PortPublisher.Proxy;

/// <summary>
/// The userland proxy: one process, any number of bindings, never a process or thread per port or connection.
/// Each binding takes a socket the caller already bound (the service reserves ports before anything else).
/// </summary>
public sealed class UserlandProxy : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<ProxyBinding, byte> _bindings = new();

    public UserlandProxy(ILogger<UserlandProxy>? logger = null, TimeProvider? time = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
    }

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
            SocketType.Stream => new TcpProxyBinding(listener, target, options, _logger),
            SocketType.Dgram => new UdpProxyBinding(listener, target, options, _logger, _time),
            _ => throw new ArgumentException($"cannot proxy {listener.SocketType} sockets", nameof(listener)),
        };
        _bindings[binding] = 0;
        return binding;
    }

    /// <summary>Stops a binding: closes its listener (the port is free when this returns) and all its connections.</summary>
    public async ValueTask StopAsync(ProxyBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        if (_bindings.TryRemove(binding, out _))
        {
            await binding.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ProxyBinding b in _bindings.Keys)
        {
            await StopAsync(b);
        }
    }
}
