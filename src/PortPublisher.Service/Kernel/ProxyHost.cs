using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PortPublisher.Proxy;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IProxyHost"/> over the in-process <see cref="UserlandProxy"/>.</summary>
internal sealed class ProxyHost(ILogger<UserlandProxy> logger, TimeProvider time) : IProxyHost
{
    private readonly UserlandProxy _proxy = new(logger, time);

    public IReadOnlyCollection<ProxyBinding> Bindings => _proxy.Bindings;

    public IProxySockets OpenSockets(ITargetNamespace ns) =>
        new Sockets(new NamespaceSocketFactory(((KernelNamespace)ns).Namespace));

    public IProxyLease Start(SafeSocketHandle reserved, IPEndPoint target, IProxySockets sockets) =>
        new Lease(_proxy.Start(new Socket(reserved), new ProxyTarget(target, ((Sockets)sockets).Factory)));

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
