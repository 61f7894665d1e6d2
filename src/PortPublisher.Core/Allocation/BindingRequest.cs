using System.Net;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>
/// One address-family-resolved request for a host port, as the daemon builds it from a parsed mapping:
/// a concrete host address and a host port range, where (0, 0) means "dynamic".
/// </summary>
public sealed record BindingRequest(IPAddress HostIp, PortRange HostPorts, Protocol Protocol, ushort ContainerPort)
{
    /// <summary>An exact host port (not a range, not dynamic): never retried on a different port.</summary>
    public bool IsExact => HostPorts.IsSingle && HostPorts.Start != 0;

    /// <summary>Docker's <c>needSamePort</c>: requests that differ only in host address share one host port.</summary>
    public bool NeedsSamePortAs(BindingRequest other) =>
        other.ContainerPort == ContainerPort && other.Protocol == Protocol && other.HostPorts == HostPorts;
}
