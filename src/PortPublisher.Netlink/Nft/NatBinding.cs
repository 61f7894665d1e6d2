using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// One DNAT binding as the kernel holds it: packets to (<see cref="HostIp"/> or any local address when null,
/// <see cref="Protocol"/>, <see cref="HostPort"/>) go to (<see cref="TargetIp"/>, <see cref="TargetPort"/>).
/// The target's family picks the table (ip or ip6); a specific host address must be of the same family.
/// </summary>
public sealed record NatBinding(IPAddress? HostIp, Protocol Protocol, ushort HostPort, IPAddress TargetIp, ushort TargetPort)
{
    public bool IsIPv6 => TargetIp.AddressFamily == AddressFamily.InterNetworkV6;

    /// <summary>The map key, whatever the target: two bindings with equal keys cannot coexist.</summary>
    public (IPAddress? HostIp, Protocol Protocol, ushort HostPort, bool IPv6) Key => (HostIp, Protocol, HostPort, IsIPv6);

    public override string ToString() =>
        $"{(HostIp is null ? (IsIPv6 ? "[::]" : "*") : IsIPv6 ? $"[{HostIp}]" : HostIp.ToString())}:{HostPort}/{Protocol.ToName()} -> {(IsIPv6 ? $"[{TargetIp}]" : TargetIp.ToString())}:{TargetPort}";
}
