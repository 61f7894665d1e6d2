using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Sandboxes;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Route;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Sandboxes;

/// <summary>
/// The service's bridge and the veth pairs on it, in the service's own network namespace (the host's), all through our
/// rtnetlink codec, as Docker 28 builds docker0 and a container's endpoint: a random locally administered MAC for the
/// bridge and for eth0, both veth ends named "veth" + 7 hex, the inner end renamed eth0, lo up, the default route via
/// the bridge's address. The bridge carries its service's mark as its alias (<c>ip link show</c> prints it), so that a
/// second service with another state directory never takes it over. Blocking calls: the caller runs them off the
/// writer, under a deadline.
/// </summary>
internal sealed class BridgeNetwork(string name, string owner)
{
    public string Name => name;

    /// <summary>The mark: "portpublisher " and the state directory of the service that made the bridge.</summary>
    public string Owner => owner;

    /// <summary>
    /// The bridge's subnet and gateway: re-read from the bridge when it exists and is ours (an unmarked one is taken
    /// over only while nothing is attached to it but <paramref name="ourVeths"/>), else a new bridge on the first free subnet.
    /// </summary>
    public (IPNetwork Subnet, IPAddress Gateway, bool Created) Ensure(IReadOnlyCollection<string> ourVeths)
    {
        using var links = new LinkNetlink();
        if (links.GetLink(name) is { } existing)
        {
            if (existing.Alias != owner)
            {
                List<string> strangers = [.. links.GetLinks().Where(l => l.MasterIndex == existing.Index && !ourVeths.Contains(l.Name)).Select(l => l.Name)];
                if (!string.IsNullOrEmpty(existing.Alias) || strangers.Count > 0)
                {
                    string whose = string.IsNullOrEmpty(existing.Alias) ? $"another tool (it has {string.Join(", ", strangers)} attached)" : $"\"{existing.Alias}\"";
                    throw new PublishException(HttpStatusCode.Conflict, $"bridge {name} belongs to {whose}, not to this service ({owner}); give this service a bridge of its own (PortPublisher:Sandbox:Bridge)");
                }

                links.SetAlias(existing.Index, owner);
            }

            using var route = new RouteNetlink();
            InterfaceAddress a = route.GetAddresses().FirstOrDefault(x => x.InterfaceIndex == existing.Index && x.Address.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new PublishException(HttpStatusCode.Conflict, $"bridge {name} exists but has no IPv4 address (made by another tool?); delete it or choose another bridge (PortPublisher:Sandbox:Bridge)");
            return (Network(a.Address, a.PrefixLength), a.Address, false);
        }

        IPNetwork subnet = SubnetPool.Choose(links.GetIPv4Routes().Select(r => new IPNetwork(r.Destination, r.PrefixLength)))
            ?? throw new PublishException(HttpStatusCode.Conflict, "no free subnet for the bridge: every one of 172.17.0.0/16 … 172.31.0.0/16 and 192.168.0.0/20 … 192.168.240.0/20 overlaps a route of the host");
        IPAddress gateway = Ipam.Gateway(subnet);
        Create(links, subnet, gateway);
        return (subnet, gateway, true);
    }

    /// <summary>
    /// Makes the bridge again when it is gone (someone ran <c>ip link del pp0</c>): the same subnet and gateway, and
    /// the sandboxes' host ends attached again. Returns how many were attached, or -1 when the bridge was there.
    /// </summary>
    public int Repair(IPNetwork subnet, IPAddress gateway, IReadOnlyCollection<string> veths)
    {
        using var links = new LinkNetlink();
        if (links.GetLink(name) is not null)
        {
            return -1;
        }

        Create(links, subnet, gateway);
        int bridge = links.GetLink(name)!.Index, attached = 0;
        foreach (string veth in veths)
        {
            if (links.GetLink(veth) is { } link)
            {
                links.SetMaster(link.Index, bridge);
                links.SetHairpin(link.Index);
                links.SetUp(link.Index);
                attached++;
            }
        }

        return attached;
    }

    /// <summary>Whether the bridge exists and carries this service's mark.</summary>
    public bool IsOurs()
    {
        using var links = new LinkNetlink();
        return links.GetLink(name)?.Alias == owner;
    }

    /// <summary>Removes the bridge (when its last sandbox goes); one that is already gone is fine.</summary>
    public void Delete()
    {
        using var links = new LinkNetlink();
        if (links.GetLink(name) is { } bridge)
        {
            links.DeleteLink(bridge.Index);
        }
    }

    /// <summary>A host-end name that no link has now: chosen, and saved, before the veth is made.</summary>
    public static string FreeVethName()
    {
        using var links = new LinkNetlink();
        return FreeName(links);
    }

    /// <summary>Connects <paramref name="sandbox"/> to the bridge by a veth whose host end is <paramref name="veth"/>, with <paramref name="address"/>; returns eth0's MAC.</summary>
    public string Attach(NetworkNamespace sandbox, string veth, IPAddress address, IPNetwork subnet, IPAddress gateway)
    {
        using var links = new LinkNetlink();
        int bridge = (links.GetLink(name) ?? throw new PublishException(HttpStatusCode.Conflict, $"bridge {name} is gone")).Index;
        string peer = FreeName(links);
        byte[] mac = SandboxId.RandomMac();
        links.AddVethPair(veth, peer, sandbox, mac);
        try
        {
            int outer = links.GetLink(veth)!.Index;
            links.SetMaster(outer, bridge);
            links.SetHairpin(outer);
            links.SetUp(outer);
            using var inside = new LinkNetlink(sandbox);
            int eth0 = inside.GetLink(peer)!.Index;
            inside.Rename(eth0, "eth0");
            inside.AddIPv4Address(eth0, address, subnet.PrefixLength);
            inside.SetUp(inside.GetLink("lo")!.Index);
            inside.SetUp(eth0);
            inside.AddIPv4DefaultRoute(gateway, eth0);
        }
        catch
        {
            Detach(veth);
            throw;
        }

        return string.Join(':', mac.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Deletes the host end of a sandbox's veth (its peer goes with it); one that is gone is fine.</summary>
    public static void Detach(string veth)
    {
        using var links = new LinkNetlink();
        if (links.GetLink(veth) is { } link)
        {
            links.DeleteLink(link.Index);
        }
    }

    /// <summary>Brings up lo in a namespace (none mode: lo is all it has).</summary>
    public static void LoopbackUp(NetworkNamespace sandbox)
    {
        using var inside = new LinkNetlink(sandbox);
        inside.SetUp(inside.GetLink("lo")!.Index);
    }

    /// <summary>Whether the namespace's lo has ::1 (Docker writes the IPv6 lines of /etc/hosts only then).</summary>
    public static bool HasIPv6Loopback(NetworkNamespace sandbox)
    {
        using var route = new RouteNetlink(sandbox);
        return route.GetAddresses().Any(a => a.Address.Equals(IPAddress.IPv6Loopback));
    }

    private void Create(LinkNetlink links, IPNetwork subnet, IPAddress gateway)
    {
        links.AddBridge(name, SandboxId.RandomMac());
        try
        {
            int index = links.GetLink(name)!.Index;
            links.SetAlias(index, owner);
            links.AddIPv4Address(index, gateway, subnet.PrefixLength);
            links.SetUp(index);
        }
        catch
        {
            Delete();
            throw;
        }
    }

    private static string FreeName(LinkNetlink links)
    {
        for (int i = 0; i < 16; i++)
        {
            string candidate = SandboxId.VethName();
            if (links.GetLink(candidate) is null)
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("no free veth name after 16 tries");
    }

    private static IPNetwork Network(IPAddress address, int prefix)
    {
        uint a = BinaryPrimitives.ReadUInt32BigEndian(address.GetAddressBytes());
        uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, a & mask);
        return new IPNetwork(new IPAddress(b), prefix);
    }
}
