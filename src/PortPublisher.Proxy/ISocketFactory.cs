using System.Net.Sockets;

namespace PortPublisher.Proxy;

/// <summary>Creates the sockets the proxy dials with; where they are created decides which namespace they live in.</summary>
public interface ISocketFactory
{
    Socket Create(AddressFamily family, SocketType type, ProtocolType protocol);
}
