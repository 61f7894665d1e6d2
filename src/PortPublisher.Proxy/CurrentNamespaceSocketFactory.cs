using System.Net.Sockets;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy;

/// <summary>Sockets in the caller's own namespace.</summary>
public sealed class CurrentNamespaceSocketFactory : ISocketFactory
{
    public static readonly CurrentNamespaceSocketFactory Instance = new();

    public ValueTask<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol) => ValueTask.FromResult(new Socket(family, type, protocol));

    public ValueTask<int> CreateTcpAsync(AddressFamily family)
    {
        int fd = SocketNative.TcpSocket(family);
        return fd >= 0 ? ValueTask.FromResult(fd) : ValueTask.FromException<int>(new SocketException(-fd));
    }
}
