using System.Net;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.Publications;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Kernel;

namespace PortPublisher.Service.Publications;

/// <summary>A binding the service carries now: its host side, its carrier and what holds its host port.</summary>
internal sealed class ActiveBinding(HostBinding host, Carrier carrier, IPAddress targetIp)
{
    public HostBinding Host { get; } = host;

    public Carrier Carrier { get; } = carrier;

    public IPAddress TargetIp { get; } = targetIp;

    /// <summary>
    /// The socket that keeps the port ours while nothing listens on it, as Docker's daemon keeps it (shared with the
    /// other half of a wildcard pair); null once a listener owns it.
    /// </summary>
    public PortHold? Hold { get; set; }

    /// <summary>The running listener (it owns the socket); a wildcard pair on one dual-stack socket shares one.</summary>
    public IProxyLease? Proxy { get; set; }

    public NatBinding ToNat()
    {
        bool wildcard = Host.HostIp.Equals(IPAddress.Any) || Host.HostIp.Equals(IPAddress.IPv6Any);
        return new NatBinding(wildcard ? null : Host.HostIp, Host.Protocol, Host.HostPort, TargetIp, Host.ContainerPort);
    }

    /// <summary>
    /// Proxied bindings listen on their reserved socket. So do NAT'ed wildcard bindings: the output chains leave ::1
    /// (the kernel keeps it on lo) and 127.0.0.0/8 (DNAT'ing it would need route_localnet, which opens the host's
    /// loopback to its links) alone, so local clients of <c>[::1]:port</c> and <c>127.0.0.1:port</c> reach the listener,
    /// which the proxy serves, as Docker's docker-proxy does; every other address is DNAT'ed before it gets there.
    /// </summary>
    public bool Listens => Carrier == Carrier.Proxy
        || ((Host.HostIp.Equals(IPAddress.IPv6Any) || Host.HostIp.Equals(IPAddress.Any)) && Host.Protocol != Core.Specs.Protocol.Sctp);

    /// <summary>
    /// A NAT'ed 127.0.0.0/8 binding (<c>--mode nat</c>, or SCTP): the host's link to the target needs route_localnet,
    /// or the kernel drops the DNAT'ed packets as martians.
    /// </summary>
    public bool NeedsLocalnet => Carrier == Carrier.Nat && Host.HostIp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && IPAddress.IsLoopback(Host.HostIp);
}
