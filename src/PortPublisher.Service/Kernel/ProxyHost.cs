using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Netlink;
using PortPublisher.Proxy;
using PortPublisher.Service.Options;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IProxyHost"/> over the in-process <see cref="UserlandProxy"/>.</summary>
internal sealed class ProxyHost(ILogger<UserlandProxy> logger, TimeProvider time, IOptions<PortPublisherOptions> options) : IProxyHost
{
    private readonly UserlandProxy _proxy = new(logger, time);
    private readonly ProxyBindingOptions _bindingOptions = new() { MaxConnections = options.Value.MaxConnections };
    private readonly ProxyBindingOptions _loopbackOptions = new() { MaxConnections = options.Value.MaxConnections, SingleLoop = true };

    public IReadOnlyCollection<ProxyBinding> Bindings => _proxy.Bindings;

    // One socket source (its thread and ready stock) per namespace, shared by the publications into it; counted.
    private readonly Dictionary<NetworkNamespace, (NamespaceSocketFactory Factory, int Users)> _factories = new(ReferenceEqualityComparer.Instance);

    public IProxySockets OpenSockets(ITargetNamespace ns)
    {
        NetworkNamespace handle = ((KernelNamespace)ns).Namespace;
        lock (_factories)
        {
            (NamespaceSocketFactory Factory, int Users) entry = _factories.TryGetValue(handle, out var e) ? (e.Factory, e.Users + 1) : (new NamespaceSocketFactory(handle), 1);
            _factories[handle] = entry;
            return new Sockets(entry.Factory, this);
        }
    }

    private void Release(NamespaceSocketFactory factory)
    {
        lock (_factories)
        {
            if (!_factories.TryGetValue(factory.Namespace, out var e) || !ReferenceEquals(e.Factory, factory))
            {
                return;
            }

            if (e.Users > 1)
            {
                _factories[factory.Namespace] = (factory, e.Users - 1);
                return;
            }

            _factories.Remove(factory.Namespace);
        }

        factory.Dispose();
    }

    public IProxyLease Start(ProxyStart start, IProxySockets sockets)
    {
        var target = new ProxyTarget(start.Target, ((Sockets)sockets).Factory) { IPv4ClientsEndpoint = start.IPv4ClientsTarget };
        ProxyBindingOptions options = start.LoopbackOnly ? _loopbackOptions : _bindingOptions;

        // TCP from the raw handle (no Socket object per listener: a 10,000-port range starts 10,000); UDP relays
        // through System.Net.Sockets' async receive.
        return new Lease(start.Protocol == Core.Specs.Protocol.Tcp
            ? _proxy.StartTcp(start.Reserved, start.Listen, target, options)
            : _proxy.Start(new Socket(start.Reserved), target, options));
    }

    public ValueTask<bool> StopAsync(IProxyLease lease, TimeSpan timeout) => _proxy.StopAsync(((Lease)lease).Binding, timeout);

    public ValueTask DisposeAsync() => _proxy.DisposeAsync();

    private sealed class Lease(ProxyBinding binding) : IProxyLease
    {
        public ProxyBinding Binding { get; } = binding;

        public EndPoint Listen => Binding.Listen;
    }

    private sealed class Sockets(NamespaceSocketFactory factory, ProxyHost owner) : IProxySockets
    {
        private int _disposed;

        public NamespaceSocketFactory Factory { get; } = factory;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Release(Factory);
            }
        }
    }
}
