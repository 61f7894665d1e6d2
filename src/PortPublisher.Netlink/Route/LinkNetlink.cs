using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Route;

/// <summary>
/// rtnetlink writes in one namespace, as <c>ip link</c>, <c>ip addr</c> and <c>ip route</c> make them: bridges, veth
/// pairs with the peer created straight inside another namespace, renames, MACs, enslaving, up, IPv4 addresses (with the
/// broadcast address, as Docker's netlink library adds it), the default route, and deletes. Each call is one request
/// with an ack; a refusal throws <see cref="NetlinkException"/> with the kernel's errno. Not thread-safe.
/// </summary>
public sealed class LinkNetlink : IDisposable
{
    private const int ENODEV = 19;

    private readonly NetlinkClient _client;

    public LinkNetlink(NetworkNamespace? ns = null)
    {
        _client = new NetlinkClient(LinuxNetlink.NETLINK_ROUTE, ns);
    }

    /// <summary>The interface called <paramref name="name"/>, or null when there is none.</summary>
    public LinkInfo? GetLink(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        try
        {
            List<NetlinkReply> replies = _client.Request(RtNetlink.RTM_GETLINK, 0, w =>
            {
                w.WriteRaw(IfInfo(0));
                w.WriteString(RtNetlink.IFLA_IFNAME, name);
            }, $"get link {name}");
            return replies.Where(r => r.Type == RtNetlink.RTM_NEWLINK).Select(r => ParseLink(r.Payload)).FirstOrDefault(l => l is not null);
        }
        catch (NetlinkException e) when (e.Errno == ENODEV)
        {
            return null;
        }
    }

    /// <summary>Every interface of the namespace.</summary>
    public IReadOnlyList<LinkInfo> GetLinks()
    {
        var result = new List<LinkInfo>();
        foreach (NetlinkReply r in _client.Dump(RtNetlink.RTM_GETLINK, w => w.WriteRaw(IfInfo(0)), "list links"))
        {
            if (r.Type == RtNetlink.RTM_NEWLINK && ParseLink(r.Payload) is { } link)
            {
                result.Add(link);
            }
        }

        return result;
    }

    /// <summary>Every IPv4 route of the main table (what the host routes, for choosing a subnet that collides with none).</summary>
    public IReadOnlyList<Ipv4Route> GetIPv4Routes()
    {
        var result = new List<Ipv4Route>();
        foreach (NetlinkReply r in _client.Dump(RtNetlink.RTM_GETROUTE, w => w.WriteRaw(RtMsg(0, 0, 0, 0)), "list routes"))
        {
            byte[] p = r.Payload;
            if (r.Type != RtNetlink.RTM_NEWROUTE || p.Length < RtNetlink.RTMSG_LEN || p[0] != RtNetlink.AF_INET)
            {
                continue;
            }

            uint table = p[4];
            IPAddress dst = IPAddress.Any;
            foreach (NetlinkAttribute a in new NetlinkAttributeReader(p.AsSpan(RtNetlink.RTMSG_LEN)))
            {
                if (a.Type == RtNetlink.RTA_DST && a.Payload.Length == 4)
                {
                    dst = new IPAddress(a.Payload);
                }
                else if (a.Type == RtNetlink.RTA_TABLE)
                {
                    table = a.GetUInt32();
                }
            }

            if (table == RtNetlink.RT_TABLE_MAIN)
            {
                result.Add(new Ipv4Route(dst, p[1]));
            }
        }

        return result;
    }

    /// <summary><c>ip link add NAME address MAC type bridge</c>.</summary>
    public void AddBridge(string name, ReadOnlySpan<byte> mac)
    {
        CheckName(name);
        byte[] address = mac.ToArray();
        _client.Request(RtNetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, w =>
        {
            w.WriteRaw(IfInfo(0));
            w.WriteString(RtNetlink.IFLA_IFNAME, name);
            if (address.Length > 0)
            {
                w.WriteAttribute(RtNetlink.IFLA_ADDRESS, address);
            }

            int info = w.BeginNested(RtNetlink.IFLA_LINKINFO);
            w.WriteString(RtNetlink.IFLA_INFO_KIND, "bridge");
            w.EndNested(info);
        }, $"add bridge {name}");
    }

    /// <summary>
    /// <c>ip link add NAME type veth peer name PEER address MAC netns NS</c>: the peer is created inside
    /// <paramref name="peerNamespace"/>, so it never exists in this namespace, even for a moment.
    /// </summary>
    public void AddVethPair(string name, string peerName, NetworkNamespace peerNamespace, ReadOnlySpan<byte> peerMac)
    {
        ArgumentNullException.ThrowIfNull(peerNamespace);
        CheckName(name);
        CheckName(peerName);
        byte[] address = peerMac.ToArray();
        bool added = false;
        peerNamespace.Handle.DangerousAddRef(ref added);
        try
        {
            uint fd = (uint)peerNamespace.Handle.DangerousGetHandle();
            _client.Request(RtNetlink.RTM_NEWLINK, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, w =>
            {
                w.WriteRaw(IfInfo(0));
                w.WriteString(RtNetlink.IFLA_IFNAME, name);
                int info = w.BeginNested(RtNetlink.IFLA_LINKINFO);
                w.WriteString(RtNetlink.IFLA_INFO_KIND, "veth");
                int data = w.BeginNested(RtNetlink.IFLA_INFO_DATA);

                // VETH_INFO_PEER carries a whole struct ifinfomsg, then the peer's own attributes.
                int peer = w.BeginNested(RtNetlink.VETH_INFO_PEER);
                w.WriteRaw(IfInfo(0));
                w.WriteString(RtNetlink.IFLA_IFNAME, peerName);
                if (address.Length > 0)
                {
                    w.WriteAttribute(RtNetlink.IFLA_ADDRESS, address);
                }

                w.WriteAttribute(RtNetlink.IFLA_NET_NS_FD, U32(fd));
                w.EndNested(peer);
                w.EndNested(data);
                w.EndNested(info);
            }, $"add veth {name} peer {peerName}");
        }
        finally
        {
            if (added)
            {
                peerNamespace.Handle.DangerousRelease();
            }
        }
    }

    /// <summary><c>ip link set dev INDEX name NAME</c> (the link must be down, as the kernel requires).</summary>
    public void Rename(int index, string name)
    {
        CheckName(name);
        _client.Request(RtNetlink.RTM_NEWLINK, 0, w =>
        {
            w.WriteRaw(IfInfo(index));
            w.WriteString(RtNetlink.IFLA_IFNAME, name);
        }, $"rename link {index} to {name}");
    }

    /// <summary><c>ip link set dev INDEX master MASTER</c>.</summary>
    public void SetMaster(int index, int masterIndex) =>
        _client.Request(RtNetlink.RTM_NEWLINK, 0, w =>
        {
            w.WriteRaw(IfInfo(index));
            w.WriteAttribute(RtNetlink.IFLA_MASTER, U32((uint)masterIndex));
        }, $"set master of link {index} to {masterIndex}");

    /// <summary><c>ip link set dev INDEX alias TEXT</c>: a free-text mark (IFALIASZ is 256, with its NUL).</summary>
    public void SetAlias(int index, string alias)
    {
        ArgumentNullException.ThrowIfNull(alias);
        if (System.Text.Encoding.UTF8.GetByteCount(alias) > 255)
        {
            throw new ArgumentException($"alias longer than 255 bytes: {alias}", nameof(alias));
        }

        _client.Request(RtNetlink.RTM_NEWLINK, 0, w =>
        {
            w.WriteRaw(IfInfo(index));
            w.WriteString(RtNetlink.IFLA_IFALIAS, alias);
        }, $"set alias of link {index}");
    }

    /// <summary>
    /// <c>ip link set dev INDEX type bridge_slave hairpin on</c>: the bridge may send a frame back out of the port it came
    /// in by, which a sandbox reaching its own published port through the host needs (the DNAT sends it back to itself).
    /// </summary>
    public void SetHairpin(int index) =>
        _client.Request(RtNetlink.RTM_NEWLINK, 0, w =>
        {
            w.WriteRaw(IfInfo(index));
            int info = w.BeginNested(RtNetlink.IFLA_LINKINFO);
            w.WriteString(RtNetlink.IFLA_INFO_SLAVE_KIND, "bridge");
            int data = w.BeginNested(RtNetlink.IFLA_INFO_SLAVE_DATA);
            w.WriteAttribute(RtNetlink.IFLA_BRPORT_MODE, [1]);
            w.EndNested(data);
            w.EndNested(info);
        }, $"set hairpin on link {index}");

    /// <summary><c>ip link set dev INDEX up</c>.</summary>
    public void SetUp(int index) =>
        _client.Request(RtNetlink.RTM_NEWLINK, 0, w => w.WriteRaw(IfInfo(index, RtNetlink.IFF_UP, RtNetlink.IFF_UP)), $"set link {index} up");

    /// <summary><c>ip link del dev INDEX</c> (a veth takes its peer with it).</summary>
    public void DeleteLink(int index) =>
        _client.Request(RtNetlink.RTM_DELLINK, 0, w => w.WriteRaw(IfInfo(index)), $"delete link {index}");

    /// <summary><c>ip addr add ADDRESS/PREFIX broadcast + dev INDEX</c> (IPv4).</summary>
    public void AddIPv4Address(int index, IPAddress address, int prefixLength)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.AddressFamily != AddressFamily.InterNetwork || prefixLength is < 0 or > 32)
        {
            throw new ArgumentException($"{address}/{prefixLength} is not an IPv4 prefix", nameof(address));
        }

        byte[] local = address.GetAddressBytes();
        uint host = prefixLength == 32 ? 0 : uint.MaxValue >> prefixLength;
        byte[] broadcast = U32BigEndian(BinaryPrimitives.ReadUInt32BigEndian(local) | host);
        _client.Request(RtNetlink.RTM_NEWADDR, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, w =>
        {
            // struct ifaddrmsg: family, prefixlen, flags, scope, index
            Span<byte> m = stackalloc byte[RtNetlink.IFADDRMSG_LEN];
            m[0] = RtNetlink.AF_INET;
            m[1] = (byte)prefixLength;
            m[3] = RtNetlink.RT_SCOPE_UNIVERSE;
            BinaryPrimitives.WriteInt32LittleEndian(m[4..], index);
            w.WriteRaw(m);
            w.WriteAttribute(RtNetlink.IFA_LOCAL, local);
            w.WriteAttribute(RtNetlink.IFA_ADDRESS, local);
            if (prefixLength < 31)
            {
                w.WriteAttribute(RtNetlink.IFA_BROADCAST, broadcast);
            }
        }, $"add address {address}/{prefixLength} to link {index}");
    }

    /// <summary><c>ip route add default via GATEWAY dev INDEX</c> (IPv4, main table).</summary>
    public void AddIPv4DefaultRoute(IPAddress gateway, int index)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        byte[] gw = gateway.GetAddressBytes();
        _client.Request(RtNetlink.RTM_NEWROUTE, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_EXCL, w =>
        {
            w.WriteRaw(RtMsg(RtNetlink.RT_TABLE_MAIN, RtNetlink.RTPROT_BOOT, RtNetlink.RT_SCOPE_UNIVERSE, RtNetlink.RTN_UNICAST));
            w.WriteAttribute(RtNetlink.RTA_GATEWAY, gw);
            w.WriteAttribute(RtNetlink.RTA_OIF, U32((uint)index));
        }, $"add default route via {gateway}");
    }

    public void Dispose() => _client.Dispose();

    private static LinkInfo? ParseLink(byte[] p)
    {
        if (p.Length < RtNetlink.IFINFOMSG_LEN)
        {
            return null;
        }

        int index = BinaryPrimitives.ReadInt32LittleEndian(p.AsSpan(4));
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(8));
        string? name = null;
        string mac = string.Empty;
        int master = 0;
        string? alias = null;
        foreach (NetlinkAttribute a in new NetlinkAttributeReader(p.AsSpan(RtNetlink.IFINFOMSG_LEN)))
        {
            switch (a.Type)
            {
                case RtNetlink.IFLA_IFNAME:
                    name = a.GetString();
                    break;
                case RtNetlink.IFLA_ADDRESS:
                    mac = string.Join(':', a.Payload.ToArray().Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
                    break;
                case RtNetlink.IFLA_MASTER:
                    master = (int)a.GetUInt32();
                    break;
                case RtNetlink.IFLA_IFALIAS:
                    alias = a.GetString();
                    break;
            }
        }

        return name is null ? null : new LinkInfo(index, name, mac, master, (flags & RtNetlink.IFF_UP) != 0, alias);
    }

    /// <summary>struct ifinfomsg: family, pad, type (u16), index (s32), flags, change.</summary>
    private static byte[] IfInfo(int index, uint flags = 0, uint change = 0)
    {
        var m = new byte[RtNetlink.IFINFOMSG_LEN];
        m[0] = RtNetlink.AF_UNSPEC;
        BinaryPrimitives.WriteInt32LittleEndian(m.AsSpan(4), index);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(8), flags);
        BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(12), change);
        return m;
    }

    /// <summary>struct rtmsg (IPv4, no prefix): family, dst_len, src_len, tos, table, protocol, scope, type, flags.</summary>
    private static byte[] RtMsg(byte table, byte protocol, byte scope, byte type) =>
        [RtNetlink.AF_INET, 0, 0, 0, table, protocol, scope, type, 0, 0, 0, 0];

    private static byte[] U32(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return b;
    }

    private static byte[] U32BigEndian(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return b;
    }

    private static void CheckName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name.Length > RtNetlink.IFNAMSIZ_MAX || name.Contains('/', StringComparison.Ordinal) || name.Any(char.IsWhiteSpace))
        {
            throw new ArgumentException($"invalid interface name \"{name}\" (at most {RtNetlink.IFNAMSIZ_MAX} characters, no '/' or spaces)", nameof(name));
        }
    }
}
