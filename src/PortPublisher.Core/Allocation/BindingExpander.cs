using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>
/// The daemon's step from parsed mappings to per-address-family requests (moby v28
/// <c>port_mapping_linux.go</c>; docker-semantics.md §2.1–2.2).
/// </summary>
public static class BindingExpander
{
    /// <summary>
    /// Expands mappings into requests in Docker's allocation order. An empty host IP yields the default
    /// address (0.0.0.0) and, when <paramref name="hostSupportsIPv6"/>, <c>::</c> with the same port;
    /// IPv4-mapped IPv6 host addresses are unmapped. Exact duplicates are dropped.
    /// </summary>
    public static IReadOnlyList<BindingRequest> Expand(IEnumerable<PortMapping> mappings, bool hostSupportsIPv6 = true, IPAddress? defaultHostIp = null)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        defaultHostIp ??= IPAddress.Any;
        if (defaultHostIp.IsIPv4MappedToIPv6)
        {
            defaultHostIp = defaultHostIp.MapToIPv4();
        }

        var ordered = new List<(PortMapping Mapping, IPAddress? HostIp, PortRange HostPorts)>();
        foreach (PortMapping m in mappings)
        {
            IPAddress? hostIp = null;
            if (m.HostIp.Length > 0)
            {
                if (!GoNet.TryParseIP(m.HostIp, out hostIp))
                {
                    throw new PortSpecException(m.HostIp, $"invalid IP address: {m.HostIp}");
                }

                if (hostIp!.IsIPv4MappedToIPv6)
                {
                    hostIp = hostIp.MapToIPv4();
                }
            }

            // HostPortEnd := HostPort when only a start was given; "" and "0" both mean dynamic.
            PortRange hostPorts = m.HostPort is { } r && !(r.Start == 0 && r.IsSingle) ? r : default;
            ordered.Add((m, hostIp, hostPorts));
        }

        // A range spec arrives in order already: checking is one pass, sorting 20,000 mappings is not. (Mappings that
        // compare equal become the same request, which is made once, so either order gives the same result.)
        if (!InOrder(ordered))
        {
            ordered.Sort(static (a, b) => Compare(a.Mapping, a.HostIp, a.HostPorts, b.Mapping, b.HostIp, b.HostPorts));
        }

        var result = new List<BindingRequest>();
        var seen = new HashSet<BindingRequest>();
        foreach ((PortMapping m, IPAddress? hostIp, PortRange hostPorts) in ordered)
        {
            if (hostIp is null)
            {
                Add(new BindingRequest(defaultHostIp, hostPorts, m.Protocol, m.ContainerPort));
                if (hostSupportsIPv6 && defaultHostIp.Equals(IPAddress.Any))
                {
                    Add(new BindingRequest(IPAddress.IPv6Any, hostPorts, m.Protocol, m.ContainerPort));
                }
            }
            else if (hostIp.AddressFamily == AddressFamily.InterNetwork || hostSupportsIPv6)
            {
                Add(new BindingRequest(hostIp, hostPorts, m.Protocol, m.ContainerPort));
            }
            else
            {
                throw new PortAllocationException($"cannot bind {m.HostIp}: IPv6 is not available on this host");
            }
        }

        return result;

        void Add(BindingRequest request)
        {
            if (seen.Add(request))
            {
                result.Add(request);
            }
        }
    }

    private static bool InOrder(List<(PortMapping Mapping, IPAddress? HostIp, PortRange HostPorts)> list)
    {
        for (int i = 1; i < list.Count; i++)
        {
            if (Compare(list[i - 1].Mapping, list[i - 1].HostIp, list[i - 1].HostPorts, list[i].Mapping, list[i].HostIp, list[i].HostPorts) > 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>moby's <c>cmpPortBinding</c>: exact ports first, then container port, protocol, host range, host address.</summary>
    private static int Compare(PortMapping a, IPAddress? aIp, PortRange aPorts, PortMapping b, IPAddress? bIp, PortRange bPorts)
    {
        bool aIsRange = aPorts.Start == 0 || !aPorts.IsSingle;
        bool bIsRange = bPorts.Start == 0 || !bPorts.IsSingle;
        if (aIsRange != bIsRange)
        {
            return aIsRange ? 1 : -1;
        }

        int c = a.ContainerPort.CompareTo(b.ContainerPort);
        if (c == 0) { c = a.Protocol.CompareTo(b.Protocol); }
        if (c == 0) { c = aPorts.Start.CompareTo(bPorts.Start); }
        if (c == 0) { c = aPorts.End.CompareTo(bPorts.End); }
        if (c == 0) { c = AddressOrder.Compare(aIp, bIp); }
        return c;
    }
}
