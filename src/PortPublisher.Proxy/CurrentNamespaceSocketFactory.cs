using System.Net.Sockets;

namespace PortPublisher.Proxy;

/// <summary>Sockets in the caller's own namespace.</summary>
public sealed class CurrentNamespaceSocketFactory : ISocketFactory
{
    public static readonly CurrentNamespaceSocketFactory Instance = new();

    public ValueTask<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol) => ValueTask.FromResult(new Socket(family, type, protocol));
}
