using System.Net;

namespace PortPublisher.Proxy;

/// <summary>Where a binding's traffic goes: an address and port, dialed with sockets from <see cref="Sockets"/> (i.e. inside the target namespace).</summary>
public sealed record ProxyTarget(IPEndPoint Endpoint, ISocketFactory Sockets);
