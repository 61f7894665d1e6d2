using System.Net;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni.Direct;

/// <summary>One NAT element as the direct mode's state file keeps it; a null <see cref="HostIp"/> is every host address.</summary>
internal sealed record StoredNatBinding(string? HostIp, string Protocol, ushort HostPort, string TargetIp, ushort TargetPort)
{
    public static StoredNatBinding From(NatBinding b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return new(b.HostIp?.ToString(), b.Protocol.ToName(), b.HostPort, b.TargetIp.ToString(), b.TargetPort);
    }

    /// <exception cref="FormatException">The file was edited into something that is not a binding.</exception>
    public NatBinding ToNat()
    {
        if (!ProtocolNames.TryParse(Protocol, out Protocol protocol))
        {
            throw new FormatException($"unknown protocol \"{Protocol}\"");
        }

        return new NatBinding(HostIp is null ? null : IPAddress.Parse(HostIp), protocol, HostPort, IPAddress.Parse(TargetIp), TargetPort);
    }
}
