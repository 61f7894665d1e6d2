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

    /// <summary>
    /// Starts relaying from the reserved socket (the lease owns it from then on) to <paramref name="target"/>; on a
    /// dual-stack socket, clients that come over IPv4 go to <paramref name="ipv4ClientsTarget"/> when it is given.
    /// <paramref name="loopbackOnly"/>: the listener of NAT'ed bindings, which only the host's own loopback clients
    /// reach (everything else is DNAT'ed before it), so it needs no more than one event loop.
    /// </summary>
    IProxyLease Start(SafeSocketHandle reserved, IPEndPoint target, IPEndPoint? ipv4ClientsTarget, bool loopbackOnly, IProxySockets sockets);

    /// <summary>
    /// Stops a binding. The listener is closed and the port free when this returns, even when the proxy's loops did
    /// not confirm within <paramref name="timeout"/>; then it returns false.
    /// </summary>
    ValueTask<bool> StopAsync(IProxyLease lease, TimeSpan timeout);
}
