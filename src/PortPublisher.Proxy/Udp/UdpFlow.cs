using System.Net;
using System.Net.Sockets;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Udp;

/// <summary>
/// One client's UDP flow (per host address it sent to): its own upstream socket, made in the target namespace and
/// connected to the target, registered with the binding's event loop. Until that socket is there (the namespace's
/// stock was empty), the client's datagrams wait here, a few of them. Loop thread only.
/// </summary>
internal sealed class UdpFlow : IEventHandler
{
    /// <summary>Datagrams kept for a flow whose socket is still being made; more are dropped (and counted).</summary>
    public const int MaxWaiting = 64;

    private readonly UdpProxyBinding _binding;

    /// <param name="listenerV6">The listener is an IPv6 socket (perhaps dual-stack, whose IPv4 clients come as ::ffff:a.b.c.d).</param>
    public UdpFlow(UdpProxyBinding binding, UdpFlowKey key, ReadOnlySpan<byte> clientAddress, ReadOnlySpan<byte> localAddress, bool listenerV6, long now)
    {
        _binding = binding;
        Key = key;
        ClientAddress = clientAddress.ToArray();
        Client = SocketNative.ReadSockAddr(clientAddress) ?? new IPEndPoint(IPAddress.None, 0);
        Target = binding.Target.For(Client.Address);
        if (!localAddress.IsEmpty)
        {
            LocalAddress = new IPAddress(localAddress);

            // An IPv4 client of a dual-stack socket: the kernel takes IPV6_PKTINFO with the mapped source (ip_cmsg_send).
            SourceControl = DatagramBatch.SourceControl(listenerV6 && localAddress.Length == 4 ? LocalAddress.MapToIPv6().GetAddressBytes() : localAddress);
        }

        LastActivity = now;
    }

    /// <summary>Where this client's datagrams go (a dual-stack binding sends each family to its own target).</summary>
    public IPEndPoint Target { get; }

    public UdpFlowKey Key { get; }

    public IPEndPoint Client { get; }

    /// <summary>The client's sockaddr, as replies are addressed.</summary>
    public byte[] ClientAddress { get; }

    /// <summary>The host address the client sent to; replies leave from it (null when the listener is bound to one address).</summary>
    public IPAddress? LocalAddress { get; }

    /// <summary>The IP_PKTINFO control message that makes replies leave from <see cref="LocalAddress"/>; empty without one.</summary>
    public byte[] SourceControl { get; } = [];

    /// <summary>The connected upstream socket; null while it is being made.</summary>
    public Socket? Upstream { get; private set; }

    public int Fd { get; private set; } = -1;

    public long Token { get; private set; }

    /// <summary>Datagrams that arrived before the upstream socket.</summary>
    public List<byte[]>? Waiting { get; set; }

    /// <summary>Opened counts in the binding's counters (the socket came and connected).</summary>
    public bool Opened { get; private set; }

    public bool Closed { get; private set; }

    public long LastActivity { get; set; }

    /// <summary>The GSO sends the path to the target refused (see <see cref="Internal.DatagramBatch.SendConnected"/>).</summary>
    public GsoPath ToTarget { get; } = new();

    /// <summary>The GSO sends the path back to the client refused (see <see cref="Internal.DatagramBatch.Flush"/>).</summary>
    public GsoPath Replies { get; } = new();

    public void Attach(Socket upstream, int fd, long token)
    {
        Upstream = upstream;
        Fd = fd;
        Token = token;
        Opened = true;
    }

    public void MarkClosed() => Closed = true;

    public void OnEvents(uint events, int tag) => _binding.Reply(this);
}
