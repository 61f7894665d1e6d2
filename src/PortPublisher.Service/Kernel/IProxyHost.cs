using System.Net;
using System.Net.Sockets;
using PortPublisher.Proxy;

namespace PortPublisher.Service.Kernel;

/// <summary>The userland proxy as the publication pipeline uses it.</summary>
internal interface IProxyHost : IAsyncDisposable
{
    /// <summary>Every binding running now, for metrics.</summary>
    IReadOnlyCollection<ProxyBinding> Bindings { get; }

    /// <summary>A source of sockets made inside <paramref name="ns"/>, shared by one publication's bindings.</summary>
    IProxySockets OpenSockets(ITargetNamespace ns);

    /// <summary>Starts relaying from the reserved socket (the lease owns it from then on).</summary>
    IProxyLease Start(ProxyStart start, IProxySockets sockets);

    /// <summary>
    /// Stops a binding. The listener is closed and the port free when this returns, even when the proxy's loops did
    /// not confirm within <paramref name="timeout"/>; then it returns false.
    /// </summary>
    ValueTask<bool> StopAsync(IProxyLease lease, TimeSpan timeout);
}
