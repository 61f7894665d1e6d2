using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Allocation;
using PortPublisher.Netlink.Nft;
using PortPublisher.Proxy;

namespace PortPublisher.Service.Publications;

/// <summary>A binding the service carries now: its host side, its carrier and what holds its host port.</summary>
internal sealed class ActiveBinding(HostBinding host, Carrier carrier, IPAddress targetIp)
{
    public HostBinding Host { get; } = host;

    public Carrier Carrier { get; } = carrier;

    public IPAddress TargetIp { get; } = targetIp;

    /// <summary>NAT: the bound (not listening) socket that keeps the port ours, as Docker's daemon keeps it.</summary>
    public SafeSocketHandle? Reservation { get; set; }

    /// <summary>Proxy: the running binding (it owns the listening socket).</summary>
    public ProxyBinding? Proxy { get; set; }

    public NatBinding ToNat()
    {
        bool wildcard = Host.HostIp.Equals(IPAddress.Any) || Host.HostIp.Equals(IPAddress.IPv6Any);
        return new NatBinding(wildcard ? null : Host.HostIp, Host.Protocol, Host.HostPort, TargetIp, Host.ContainerPort);
    }

    public string CarrierName => Carrier == Carrier.Nat ? "nat" : "proxy";
}
