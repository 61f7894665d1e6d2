using System.Net;

namespace PortPublisher.Proxy;

/// <summary>Where a binding's traffic goes: an address and port, dialed with sockets from <see cref="Sockets"/> (i.e. inside the target namespace).</summary>
public sealed record ProxyTarget(IPEndPoint Endpoint, ISocketFactory Sockets)
{
    /// <summary>
    /// Where clients that come over IPv4 go when the listener is a dual-stack <c>[::]</c> socket (IPV6_V6ONLY=0, the
    /// kernel shows them as <c>::ffff:a.b.c.d</c>): one socket then carries a wildcard pair, 0.0.0.0 and [::] of one
    /// port, each half to its own target. Null: every client goes to <see cref="Endpoint"/>.
    /// </summary>
    public IPEndPoint? IPv4ClientsEndpoint { get; init; }

    /// <summary>The endpoint a client of this address reaches.</summary>
    public IPEndPoint For(IPAddress client)
    {
        ArgumentNullException.ThrowIfNull(client);
        return IPv4ClientsEndpoint is { } v4 && (client.IsIPv4MappedToIPv6 || client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ? v4 : Endpoint;
    }
}
