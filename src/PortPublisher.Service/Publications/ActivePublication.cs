using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>A publication the service carries now.</summary>
internal sealed class ActivePublication(string name, string netns, ITargetNamespace? ns, IReadOnlyList<string> specs, IReadOnlyList<string> warnings, CniAttachment? cni = null)
{
    public string Name { get; } = name;

    /// <summary>The target as the user named it.</summary>
    public string Netns { get; } = netns;

    /// <summary>The open namespace (holding it keeps it alive); null for <c>host</c>.</summary>
    public ITargetNamespace? Namespace { get; } = ns;

    public IProxySockets? Sockets { get; set; }

    public IReadOnlyList<string> Specs { get; } = specs;

    public List<string> Warnings { get; } = [.. warnings];

    public List<ActiveBinding> Bindings { get; } = [];

    /// <summary>
    /// Set for a CNI attachment's publication: NAT only, and the runtime holds the host ports, so its bindings hold no
    /// socket and never listen.
    /// </summary>
    public CniAttachment? Cni { get; } = cni;

    /// <summary>
    /// The map elements that carry <paramref name="bindings"/> (all of them when null): one per NAT'ed binding, and for a
    /// CNI attachment with snat one more per address-less IPv4 binding, for 127.0.0.1. The output chain leaves 127/8
    /// to the proxy for wildcard elements, and a CNI attachment has no proxy: portmap DNATs the host's 127.0.0.1
    /// clients, so a specific 127.0.0.1 element does, which is not a binding of its own (<c>port</c> does not list it).
    /// </summary>
    public List<NatBinding> NatElements(IEnumerable<ActiveBinding>? bindings = null)
    {
        var elements = new List<NatBinding>();
        foreach (ActiveBinding b in (bindings ?? Bindings).Where(b => b.Carrier == Carrier.Nat))
        {
            elements.Add(b.ToNat());
            if (LoopbackCompanion(b))
            {
                elements.Add(b.ToNat() with { HostIp = System.Net.IPAddress.Loopback });
            }
        }

        return elements;
    }

    /// <summary>A NAT'ed binding whose target's link needs route_localnet: one to 127.0.0.0/8, or a CNI wildcard with snat.</summary>
    public bool NeedsLocalnet(ActiveBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        return binding.NeedsLocalnet || LoopbackCompanion(binding);
    }

    /// <summary>
    /// The bindings whose socket listens, in order. A NAT'ed wildcard binding listens only for the host's own loopback
    /// clients, so it stands aside when the same publication has a specific address of its family on its port and
    /// protocol (<c>-p 127.0.0.1::80 -p 80</c> gives both one port, as Docker does): that binding's listener takes the
    /// port. O(bindings): a 10,000-port range is one pass, not one pass per binding.
    /// </summary>
    public IEnumerable<ActiveBinding> Listeners()
    {
        if (Cni is not null)
        {
            yield break; // the runtime holds a CNI attachment's ports
        }

        HashSet<(ushort Port, Protocol Protocol, System.Net.Sockets.AddressFamily Family)> specific = [];
        foreach (ActiveBinding b in Bindings)
        {
            if (b.Listens && !IsWildcard(b))
            {
                specific.Add((b.Host.HostPort, b.Host.Protocol, b.Host.HostIp.AddressFamily));
            }
        }

        foreach (ActiveBinding b in Bindings)
        {
            if (b.Listens && (b.Carrier != Carrier.Nat || !IsWildcard(b) || specific.Count == 0
                || !specific.Contains((b.Host.HostPort, b.Host.Protocol, b.Host.HostIp.AddressFamily))))
            {
                yield return b;
            }
        }
    }

    public PublicationDto ToDto() => new(
        Name,
        Netns,
        [.. Bindings.Select(b => b.Host.ToDto(b.Carrier))],
        Bindings.Count > 0 ? GoNet.FormatIP(Bindings[0].TargetIp) : null,
        Warnings.Count > 0 ? Warnings : null,
        Cni,
        [.. Bindings.Select(b => b.TargetIp).Distinct().OrderBy(ip => ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6).Select(GoNet.FormatIP)]);

    public StoredPublication ToStored()
    {
        // A range has a handful of distinct addresses and 20,000 bindings: each address is formatted once.
        var formatted = new Dictionary<System.Net.IPAddress, string>();
        string Format(System.Net.IPAddress ip)
        {
            if (!formatted.TryGetValue(ip, out string? text))
            {
                formatted[ip] = text = GoNet.FormatIP(ip);
            }

            return text;
        }

        return new(
            Name,
            Netns,
            Namespace?.Path,
            Namespace?.Identity.Device ?? 0,
            Namespace?.Identity.Inode ?? 0,
            Specs,
            StoredBindingRuns.Compress([.. Bindings.Select(b => new StoredBinding(Format(b.Host.HostIp), b.Host.HostPort, b.Host.Protocol.ToName(), b.Host.ContainerPort, b.Carrier.ToName(), Format(b.TargetIp)))]),
            Warnings.Count > 0 ? Warnings : null,
            Cni);
    }

    private static bool IsWildcard(ActiveBinding b) => b.Host.HostIp.Equals(System.Net.IPAddress.Any) || b.Host.HostIp.Equals(System.Net.IPAddress.IPv6Any);

    private bool LoopbackCompanion(ActiveBinding b) =>
        Cni is { Snat: true } && b.Carrier == Carrier.Nat && b.Host.HostIp.Equals(System.Net.IPAddress.Any);
}
