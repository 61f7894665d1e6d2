using System.Net;
using System.Net.Sockets;

namespace PortPublisher.Proxy.Udp;

/// <summary>One client's UDP flow (per host address it sent to): its own upstream socket, created in the target namespace and connected to the target.</summary>
internal sealed class UdpFlow
{
    private long _lastActivity;

    public UdpFlow(IPEndPoint client, IPAddress? localAddress, Socket upstream, long now)
    {
        Client = client;
        LocalAddress = localAddress;
        Upstream = upstream;
        _lastActivity = now;
    }

    public IPEndPoint Client { get; }

    /// <summary>The host address the client sent to; replies leave from it (null when the listener is bound to one address).</summary>
    public IPAddress? LocalAddress { get; }

    public Socket Upstream { get; }

    public Task? ReplyLoop { get; set; }

    public long LastActivity => Volatile.Read(ref _lastActivity);

    public void Touch(long now) => Volatile.Write(ref _lastActivity, now);
}
