using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Route;

/// <summary>rtnetlink queries in one namespace: its addresses, its interfaces, and the route to an address.</summary>
public sealed class RouteNetlink : IDisposable
{
    private const ushort RTM_NEWLINK = 16;
    private const ushort RTM_GETLINK = 18;
    private const int ENODEV = 19;
    private const ushort RTM_NEWADDR = 20;
    private const ushort RTM_GETADDR = 22;
    private const ushort RTM_NEWROUTE = 24;
    private const ushort RTM_GETROUTE = 26;
    private const ushort IFA_ADDRESS = 1;
    private const ushort IFA_LOCAL = 2;
    private const ushort IFLA_IFNAME = 3;
    private const ushort RTA_DST = 1;
    private const ushort RTA_OIF = 4;
    private const ushort RTA_GATEWAY = 5;
    private const ushort RTA_PREFSRC = 7;
    private const byte AF_UNSPEC = 0;
    private const byte AF_INET = 2;
    private const byte AF_INET6 = 10;

    private readonly NetlinkClient _client;

    public RouteNetlink(NetworkNamespace? ns = null)
    {
        _client = new NetlinkClient(LinuxNetlink.NETLINK_ROUTE, ns);
    }

    /// <summary>Interface index → name.</summary>
    public IReadOnlyDictionary<int, string> GetInterfaces()
    {
        var result = new Dictionary<int, string>();
        foreach ((ushort type, _, byte[] p) in _client.Dump(RTM_GETLINK, w => w.WriteRaw(new byte[16]), "list links"))
        {
            if (ReadLink(type, p) is (int index, string name))
            {
                result[index] = name;
            }
        }

        return result;
    }

    /// <summary>
    /// The name of interface <paramref name="index"/>, or null when there is none: one RTM_GETLINK for that index, so a
    /// route lookup costs the same with ten links or ten thousand (a dump of every link made each lookup O(links)).
    /// </summary>
    public string? GetInterfaceName(int index)
    {
        // struct ifinfomsg: family, pad, type (u16), index (s32), flags, change (u32)
        var ifinfomsg = new byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(ifinfomsg.AsSpan(4), index);
        List<NetlinkReply> replies;
        try
        {
            replies = _client.Request(RTM_GETLINK, 0, w => w.WriteRaw(ifinfomsg), $"link {index}");
        }
        catch (NetlinkException e) when (e.Errno == ENODEV)
        {
            return null; // gone since the route was read
        }

        foreach ((ushort type, _, byte[] p) in replies)
        {
            if (ReadLink(type, p) is (int i, string name) && i == index)
            {
                return name;
            }
        }

        return null;
    }

    /// <summary>One RTM_NEWLINK reply (ifinfomsg, then attributes): the interface index and name, or null.</summary>
    internal static (int Index, string Name)? ReadLink(ushort type, byte[] p)
    {
        if (type != RTM_NEWLINK || p.Length < 16)
        {
            return null;
        }

        int index = BinaryPrimitives.ReadInt32LittleEndian(p.AsSpan(4));
        return NetlinkAttributeReader.TryFind(p.AsSpan(16), IFLA_IFNAME, out NetlinkAttribute name) ? (index, name.GetString()) : null;
    }

    /// <summary>Every IPv4 and IPv6 address of the namespace.</summary>
    public IReadOnlyList<InterfaceAddress> GetAddresses()
    {
        IReadOnlyDictionary<int, string> names = GetInterfaces();
        var result = new List<InterfaceAddress>();
        foreach ((ushort type, _, byte[] p) in _client.Dump(RTM_GETADDR, w => w.WriteRaw([AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0]), "list addresses"))
        {
            if (ReadAddress(type, p, names) is InterfaceAddress address)
            {
                result.Add(address);
            }
        }

        return result;
    }

    /// <summary>One RTM_NEWADDR reply (ifaddrmsg, then attributes): the IPv4 or IPv6 address it assigns, or null.</summary>
    internal static InterfaceAddress? ReadAddress(ushort type, byte[] p, IReadOnlyDictionary<int, string> names)
    {
        if (type != RTM_NEWADDR || p.Length < 8)
        {
            return null;
        }

        byte family = p[0];
        int prefix = p[1];
        byte scope = p[3];
        int index = BinaryPrimitives.ReadInt32LittleEndian(p.AsSpan(4));
        IPAddress? address = null, local = null;
        foreach (NetlinkAttribute a in new NetlinkAttributeReader(p.AsSpan(8)))
        {
            if (a.Type is IFA_ADDRESS or IFA_LOCAL && a.Payload.Length is 4 or 16)
            {
                var ip = new IPAddress(a.Payload);
                if (a.Type == IFA_LOCAL)
                {
                    local = ip;
                }
                else
                {
                    address = ip;
                }
            }
        }

        // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is ours when present.
        IPAddress? mine = local ?? address;
        return mine is not null && family is AF_INET or AF_INET6
            ? new InterfaceAddress(index, names.GetValueOrDefault(index, $"if{index}"), mine, prefix, scope)
            : null;
    }

    /// <summary>The route the kernel would use to reach <paramref name="destination"/>, or null when there is none (ENETUNREACH, EHOSTUNREACH).</summary>
    public RouteLookup? GetRoute(IPAddress destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        bool v6 = destination.AddressFamily == AddressFamily.InterNetworkV6;
        byte[] dst = destination.GetAddressBytes();
        List<NetlinkReply> replies;
        try
        {
            replies = _client.Request(RTM_GETROUTE, 0, w =>
            {
                // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
                w.WriteRaw([v6 ? AF_INET6 : AF_INET, (byte)(dst.Length * 8), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                w.WriteAttribute(RTA_DST, dst);
            }, $"route to {destination}");
        }
        catch (NetlinkException e) when (e.Errno is 101 or 113 or 22)
        {
            return null; // ENETUNREACH, EHOSTUNREACH, EINVAL (e.g. IPv6 disabled)
        }

        foreach ((ushort type, _, byte[] p) in replies)
        {
            if (ReadRoute(type, p, destination) is RouteLookup route)
            {
                return route.OutputInterfaceIndex == 0 ? route : route with { OutputInterface = GetInterfaceName(route.OutputInterfaceIndex) };
            }
        }

        return null;
    }

    /// <summary>One RTM_NEWROUTE reply (rtmsg, then attributes), without the output interface's name; or null.</summary>
    /// <exception cref="NetlinkProtocolException">An RTA_OIF shorter than a u32.</exception>
    internal static RouteLookup? ReadRoute(ushort type, byte[] p, IPAddress destination)
    {
        if (type != RTM_NEWROUTE || p.Length < 12)
        {
            return null;
        }

        byte routeType = p[7];
        int oif = 0;
        IPAddress? gateway = null, prefsrc = null;
        foreach (NetlinkAttribute a in new NetlinkAttributeReader(p.AsSpan(12)))
        {
            switch (a.Type)
            {
                case RTA_OIF:
                    oif = (int)a.GetUInt32();
                    break;
                case RTA_GATEWAY when a.Payload.Length is 4 or 16:
                    gateway = new IPAddress(a.Payload);
                    break;
                case RTA_PREFSRC when a.Payload.Length is 4 or 16:
                    prefsrc = new IPAddress(a.Payload);
                    break;
            }
        }

        return new RouteLookup(destination, oif, null, gateway, prefsrc, routeType);
    }

    public void Dispose() => _client.Dispose();
}
