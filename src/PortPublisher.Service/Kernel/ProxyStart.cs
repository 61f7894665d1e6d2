using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;

namespace PortPublisher.Service.Kernel;

/// <summary>What <see cref="IProxyHost.Start"/> starts a listener with.</summary>
/// <param name="Reserved">The bound socket that holds the port (the lease owns it once started).</param>
/// <param name="Protocol">TCP or UDP.</param>
/// <param name="Listen">The address and port it is bound to.</param>
/// <param name="Target">Where its clients go.</param>
/// <param name="IPv4ClientsTarget">On a dual-stack socket, where clients that come over IPv4 go; null: to <paramref name="Target"/>.</param>
/// <param name="LoopbackOnly">
/// The listener of NAT'ed bindings, which only the host's own loopback clients reach (everything else is DNAT'ed
/// before it), so it needs no more than one event loop.
/// </param>
internal sealed record ProxyStart(SafeSocketHandle Reserved, Protocol Protocol, IPEndPoint Listen, IPEndPoint Target, IPEndPoint? IPv4ClientsTarget, bool LoopbackOnly);
