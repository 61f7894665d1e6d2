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
    /// Whether the binding's socket listens. A NAT'ed wildcard binding listens only for the host's own loopback clients,
    /// so it stands aside when the same publication has a specific address of its family on its port and protocol
    /// (<c>-p 127.0.0.1::80 -p 80</c> gives both one port, as Docker does): that binding's listener takes the port.
    /// </summary>
    public bool Listens(ActiveBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        if (!binding.Listens || Cni is not null)
        {
            return false;
        }

        bool wildcard = binding.Host.HostIp.Equals(System.Net.IPAddress.Any) || binding.Host.HostIp.Equals(System.Net.IPAddress.IPv6Any);
        return binding.Carrier != Carrier.Nat || !wildcard || !Bindings.Any(o => !ReferenceEquals(o, binding) && o.Listens
            && o.Host.HostPort == binding.Host.HostPort && o.Host.Protocol == binding.Host.Protocol
            && o.Host.HostIp.AddressFamily == binding.Host.HostIp.AddressFamily && !o.Host.HostIp.Equals(binding.Host.HostIp));
    }

    public PublicationDto ToDto() => new(
        Name,
        Netns,
        [.. Bindings.Select(b => b.Host.ToDto(b.Carrier))],
        Bindings.Count > 0 ? GoNet.FormatIP(Bindings[0].TargetIp) : null,
        Warnings.Count > 0 ? Warnings : null,
        Cni);

    public StoredPublication ToStored() => new(
        Name,
        Netns,
        Namespace?.Path,
        Namespace?.Identity.Device ?? 0,
        Namespace?.Identity.Inode ?? 0,
        Specs,
        [.. Bindings.Select(b => new StoredBinding(GoNet.FormatIP(b.Host.HostIp), b.Host.HostPort, b.Host.Protocol.ToName(), b.Host.ContainerPort, b.Carrier.ToName(), GoNet.FormatIP(b.TargetIp)))],
        Warnings.Count > 0 ? Warnings : null,
        Cni);

    private bool LoopbackCompanion(ActiveBinding b) =>
        Cni is { Snat: true } && b.Carrier == Carrier.Nat && b.Host.HostIp.Equals(System.Net.IPAddress.Any);
}
