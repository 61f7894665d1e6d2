using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Proxy;
using PortPublisher.Service.Options;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IProxyHost"/> over the in-process <see cref="UserlandProxy"/>.</summary>
internal sealed class ProxyHost(ILogger<UserlandProxy> logger, TimeProvider time, IOptions<PortPublisherOptions> options) : IProxyHost
{
    private readonly UserlandProxy _proxy = new(logger, time);
    private readonly ProxyBindingOptions _bindingOptions = new() { MaxConnections = options.Value.MaxConnections };

    public IReadOnlyCollection<ProxyBinding> Bindings => _proxy.Bindings;

    public IProxySockets OpenSockets(ITargetNamespace ns) =>
        new Sockets(new NamespaceSocketFactory(((KernelNamespace)ns).Namespace));

    public IProxyLease Start(SafeSocketHandle reserved, IPEndPoint target, IPEndPoint? ipv4ClientsTarget, IProxySockets sockets) =>
        new Lease(_proxy.Start(new Socket(reserved), new ProxyTarget(target, ((Sockets)sockets).Factory) { IPv4ClientsEndpoint = ipv4ClientsTarget }, _bindingOptions));

    public ValueTask<bool> StopAsync(IProxyLease lease, TimeSpan timeout) => _proxy.StopAsync(((Lease)lease).Binding, timeout);

    public ValueTask DisposeAsync() => _proxy.DisposeAsync();

    private sealed class Lease(ProxyBinding binding) : IProxyLease
    {
        public ProxyBinding Binding { get; } = binding;

        public EndPoint Listen => Binding.Listen;
    }

    private sealed class Sockets(NamespaceSocketFactory factory) : IProxySockets
    {
        public NamespaceSocketFactory Factory { get; } = factory;

        public void Dispose() => Factory.Dispose();
    }
}
