using System.Net.Sockets;

namespace PortPublisher.Proxy;

/// <summary>Creates the sockets the proxy dials with; where they are created decides which namespace they live in.</summary>
public interface ISocketFactory
{
    /// <summary>A new socket; completes synchronously when one is at hand, so callers on the I/O thread never block.</summary>
    ValueTask<Socket> CreateAsync(AddressFamily family, SocketType type, ProtocolType protocol);

    /// <summary>
    /// A new non-blocking, close-on-exec TCP socket with TCP_NODELAY set, as a raw fd the caller owns and closes
    /// (the TCP relay runs on its own epoll loops). Completes synchronously when one is at hand.
    /// </summary>
    ValueTask<int> CreateTcpAsync(AddressFamily family);
}
