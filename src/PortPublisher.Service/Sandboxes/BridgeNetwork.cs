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
/// the bridge's address. Blocking calls: the caller runs them off the writer, under a deadline.
/// </summary>
internal sealed class BridgeNetwork(string name)
{
    public string Name => name;

    /// <summary>The bridge's subnet and gateway: re-read from the bridge when it exists, else a new bridge on the first free subnet.</summary>
    public (IPNetwork Subnet, IPAddress Gateway, bool Created) Ensure()
    {
        using var links = new LinkNetlink();
        if (links.GetLink(name) is { } existing)
        {
            using var route = new RouteNetlink();
            InterfaceAddress a = route.GetAddresses().FirstOrDefault(x => x.InterfaceIndex == existing.Index && x.Address.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new PublishException(HttpStatusCode.Conflict, $"bridge {name} exists but has no IPv4 address (made by another tool?); delete it or choose another --bridge");
            return (Network(a.Address, a.PrefixLength), a.Address, false);
        }

        IPNetwork subnet = SubnetPool.Choose(links.GetIPv4Routes().Select(r => new IPNetwork(r.Destination, r.PrefixLength)))
            ?? throw new PublishException(HttpStatusCode.Conflict, "no free subnet for the bridge: every one of 172.17.0.0/16 … 172.31.0.0/16 and 192.168.0.0/20 … 192.168.240.0/20 overlaps a route of the host");
        IPAddress gateway = Ipam.Gateway(subnet);
        links.AddBridge(name, SandboxId.RandomMac());
        try
        {
            int index = links.GetLink(name)!.Index;
            links.AddIPv4Address(index, gateway, subnet.PrefixLength);
            links.SetUp(index);
        }
        catch
        {
            Delete();
            throw;
        }

        return (subnet, gateway, true);
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

    /// <summary>Connects <paramref name="sandbox"/> to the bridge with <paramref name="address"/>; returns the host end's name and eth0's MAC.</summary>
    public (string Veth, string Mac) Attach(NetworkNamespace sandbox, IPAddress address, IPNetwork subnet, IPAddress gateway)
    {
        using var links = new LinkNetlink();
        int bridge = (links.GetLink(name) ?? throw new PublishException(HttpStatusCode.Conflict, $"bridge {name} is gone")).Index;
        string veth = FreeName(links), peer = FreeName(links);
        byte[] mac = SandboxId.RandomMac();
        links.AddVethPair(veth, peer, sandbox, mac);
        try
        {
            int outer = links.GetLink(veth)!.Index;
            links.SetMaster(outer, bridge);
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

        return (veth, string.Join(':', mac.Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture))));
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
