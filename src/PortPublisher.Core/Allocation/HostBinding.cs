using System.Net;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>One resolved binding: traffic to (<see cref="HostIp"/>, <see cref="HostPort"/>, <see cref="Protocol"/>) goes to <see cref="ContainerPort"/>.</summary>
public sealed record HostBinding(IPAddress HostIp, ushort HostPort, Protocol Protocol, ushort ContainerPort)
{
    /// <summary>Docker's port key, <c>80/tcp</c>.</summary>
    public string Key => $"{ContainerPort}/{Protocol.ToName()}";

    public override string ToString() => HostIp.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        ? $"[{HostIp}]:{HostPort}->{Key}"
        : $"{HostIp}:{HostPort}->{Key}";
}
