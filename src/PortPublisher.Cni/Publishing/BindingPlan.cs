using System.Net;
using System.Net.Sockets;
using PortPublisher.Cni.Spec;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni.Publishing;

/// <summary>
/// An attachment's port mappings turned into NAT bindings, as portmap turns them into rules: an empty host address
/// maps every host address of each family the container has (<c>0.0.0.0</c> and <c>::</c> mean that family's only);
/// a mapping whose family the container lacks is skipped, and said so. <c>::1</c> is refused: IPv6 has no
/// route_localnet, so the kernel never lets it leave lo.
/// </summary>
internal sealed record BindingPlan(IReadOnlyList<NatBinding> Bindings, IReadOnlyList<string> Skipped, IPAddress? ContainerV4, IPAddress? ContainerV6)
{
    /// <exception cref="CniException">7 naming the bad entry: a port out of range, an unknown protocol, a bad or <c>::1</c> host address, one host port mapped to two container ports, or no container address.</exception>
    public static BindingPlan Make(IReadOnlyList<PortMappingEntry> mappings, PrevResult? prev, string ifName)
    {
        ArgumentNullException.ThrowIfNull(mappings);
        (IPAddress? v4, IPAddress? v6) = prev?.ContainerAddresses(ifName) ?? (null, null);
        var bindings = new List<NatBinding>();
        var skipped = new List<string>();
        var keys = new Dictionary<(IPAddress?, Protocol, ushort, bool), NatBinding>();
        for (int i = 0; i < mappings.Count; i++)
        {
            PortMappingEntry m = mappings[i];
            string at = $"runtimeConfig.portMappings[{i}]";
            if (m.HostPort is < 1 or > 65535)
            {
                throw Invalid($"invalid hostPort {m.HostPort} in {at}: 1 to 65535");
            }

            if (m.ContainerPort is < 1 or > 65535)
            {
                throw Invalid($"invalid containerPort {m.ContainerPort} in {at}: 1 to 65535");
            }

            if (!ProtocolNames.TryParse(m.Protocol, out Protocol protocol))
            {
                throw Invalid($"unsupported protocol \"{m.Protocol}\" in {at}: tcp, udp or sctp");
            }

            var families = new List<(AddressFamily Family, IPAddress? HostIp)>();
            if (m.HostIp.Length == 0)
            {
                families.Add((AddressFamily.InterNetwork, null));
                families.Add((AddressFamily.InterNetworkV6, null));
            }
            else if (!GoNet.TryParseIP(m.HostIp, out IPAddress? hostIp) || hostIp is null)
            {
                throw Invalid($"invalid hostIP \"{m.HostIp}\" in {at}: an IPv4 or IPv6 address");
            }
            else if (hostIp.Equals(IPAddress.IPv6Loopback))
            {
                throw Invalid($"hostIP ::1 in {at} cannot be published by NAT: IPv6 has no route_localnet, so the kernel keeps ::1 on lo");
            }
            else
            {
                if (hostIp.IsIPv4MappedToIPv6)
                {
                    hostIp = hostIp.MapToIPv4();
                }

                bool any = hostIp.Equals(IPAddress.Any) || hostIp.Equals(IPAddress.IPv6Any);
                families.Add((hostIp.AddressFamily, any ? null : hostIp));
            }

            foreach ((AddressFamily family, IPAddress? hostIp) in families)
            {
                IPAddress? target = family == AddressFamily.InterNetwork ? v4 : v6;
                if (target is null)
                {
                    if (m.HostIp.Length > 0)
                    {
                        skipped.Add($"{at} ({Describe(m)}): the container has no {(family == AddressFamily.InterNetwork ? "IPv4" : "IPv6")} address on its interface");
                    }

                    continue;
                }

                var b = new NatBinding(hostIp, protocol, (ushort)m.HostPort, target, (ushort)m.ContainerPort);
                if (keys.TryGetValue(b.Key, out NatBinding? same))
                {
                    if (same.TargetPort != b.TargetPort)
                    {
                        throw Invalid($"{at}: host port {Host(b)} is mapped twice, to container ports {same.TargetPort} and {b.TargetPort}");
                    }

                    continue;
                }

                keys.Add(b.Key, b);
                bindings.Add(b);
            }
        }

        if (mappings.Count > 0 && v4 is null && v6 is null)
        {
            throw Invalid($"prevResult has no address on interface {ifName} inside the sandbox, so the port mappings have nowhere to go");
        }

        return new BindingPlan(bindings, skipped, v4, v6);
    }

    /// <summary>Whether these bindings need route_localnet on the host's link to the container (127.0.0.1 clients DNAT'ed).</summary>
    public static bool NeedsLocalnet(IEnumerable<NatBinding> bindings, bool snat) =>
        snat && bindings.Any(b => !b.IsIPv6 && (b.HostIp is null || IPAddress.IsLoopback(b.HostIp)));

    /// <summary>The binding's host side as the service's <c>-p</c> grammar and Docker's messages write it.</summary>
    public static string Host(NatBinding b) => b.HostIp is null
        ? (b.IsIPv6 ? "[::]" : "0.0.0.0") + $":{b.HostPort}/{b.Protocol.ToName()}"
        : (b.IsIPv6 ? $"[{b.HostIp}]" : b.HostIp.ToString()) + $":{b.HostPort}/{b.Protocol.ToName()}";

    /// <summary>The binding as one service <c>-p</c> spec: <c>0.0.0.0:8080:80/tcp</c>, <c>[::]:8080:80/udp</c>.</summary>
    public static string Spec(NatBinding b)
    {
        ArgumentNullException.ThrowIfNull(b);
        string ip = b.HostIp is null ? (b.IsIPv6 ? "[::]" : "0.0.0.0") : b.IsIPv6 ? $"[{b.HostIp}]" : b.HostIp.ToString();
        return $"{ip}:{b.HostPort}:{b.TargetPort}/{b.Protocol.ToName()}";
    }

    private static string Describe(PortMappingEntry m) => $"{(m.HostIp.Length == 0 ? string.Empty : m.HostIp + ":")}{m.HostPort}->{m.ContainerPort}/{m.Protocol}";

    private static CniException Invalid(string message) => new(CniErrorCode.ErrInvalidNetworkConfig, message);
}
