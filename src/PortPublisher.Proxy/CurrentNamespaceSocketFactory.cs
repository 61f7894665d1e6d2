using System.Net.Sockets;

namespace PortPublisher.Proxy;

/// <summary>Sockets in the caller's own namespace.</summary>
public sealed class CurrentNamespaceSocketFactory : ISocketFactory
{
    public static readonly CurrentNamespaceSocketFactory Instance = new();

    public Socket Create(AddressFamily family, SocketType type, ProtocolType protocol) => new(family, type, protocol);
}
