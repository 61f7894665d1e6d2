using System.Buffers.Binary;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Conntrack;

/// <summary>
/// ctnetlink in one namespace. NAT is decided when a conntrack entry is created, so UDP flows that started before a
/// port was published (or while nothing listened) keep bypassing the new DNAT until their entries go; Docker deletes
/// them for every published UDP port, and so do we.
/// </summary>
public sealed class ConntrackNetlink : IDisposable
{
    private const ushort IPCTNL_MSG_CT_GET = 1;
    private const ushort IPCTNL_MSG_CT_DELETE = 2;
    private const ushort CTA_TUPLE_ORIG = 1;
    private const ushort CTA_ZONE = 18;
    private const ushort CTA_TUPLE_PROTO = 2;
    private const ushort CTA_PROTO_NUM = 1;
    private const ushort CTA_PROTO_DST_PORT = 3;
    private const byte IPPROTO_UDP = 17;

    private readonly NetlinkClient _client;

    public ConntrackNetlink(NetworkNamespace? ns = null)
    {
        _client = new NetlinkClient(LinuxNetlink.NETLINK_NETFILTER, ns);
    }

    /// <summary>Deletes IPv4 and IPv6 UDP entries whose original destination port is one of <paramref name="ports"/>; returns how many.</summary>
    public int DeleteUdpByOriginalDestinationPort(IReadOnlyCollection<ushort> ports)
    {
        ArgumentNullException.ThrowIfNull(ports);
        if (ports.Count == 0)
        {
            return 0;
        }

        var wanted = ports.ToHashSet();
        int deleted = 0;
        foreach (byte family in new[] { NfNetlink.NFPROTO_IPV4, NfNetlink.NFPROTO_IPV6 })
        {
            var victims = new List<(byte[] Tuple, byte[]? Zone)>();
            foreach ((_, _, byte[] p) in _client.Dump(Type(IPCTNL_MSG_CT_GET), w => w.WriteNfGenMsg(family), "list conntrack"))
            {
                if (ReadUdpEntryTo(p, wanted) is { } victim)
                {
                    victims.Add(victim);
                }
            }

            foreach ((byte[] tuple, byte[]? zone) in victims)
            {
                try
                {
                    _client.Request(Type(IPCTNL_MSG_CT_DELETE), 0, w =>
                    {
                        w.WriteNfGenMsg(family);
                        w.WriteAttribute(CTA_TUPLE_ORIG | LinuxNetlink.NLA_F_NESTED, tuple);
                        if (zone is not null)
                        {
                            w.WriteAttribute(CTA_ZONE, zone);
                        }
                    }, "delete conntrack entry");
                    deleted++;
                }
                catch (NetlinkException e) when (e.IsNotFound)
                {
                    // benign race: the entry expired between the dump and the delete
                }
            }
        }

        return deleted;
    }

    public void Dispose() => _client.Dispose();

    /// <summary>One dumped entry (nfgenmsg, then attributes): its original tuple and zone when it is UDP to one of <paramref name="ports"/>, else null.</summary>
    internal static (byte[] Tuple, byte[]? Zone)? ReadUdpEntryTo(byte[] p, HashSet<ushort> ports)
    {
        if (p.Length < NfNetlink.NFGENMSG_LEN)
        {
            return null;
        }

        ReadOnlySpan<byte> attrs = p.AsSpan(NfNetlink.NFGENMSG_LEN);
        if (!NetlinkAttributeReader.TryFind(attrs, CTA_TUPLE_ORIG, out NetlinkAttribute orig) || !IsUdpTo(orig.Payload, ports))
        {
            return null;
        }

        byte[]? zone = NetlinkAttributeReader.TryFind(attrs, CTA_ZONE, out NetlinkAttribute z) ? z.Payload.ToArray() : null;
        return (orig.Payload.ToArray(), zone);
    }

    private static ushort Type(ushort msg) => (ushort)((NfNetlink.NFNL_SUBSYS_CTNETLINK << 8) | msg);

    private static bool IsUdpTo(ReadOnlySpan<byte> tuple, HashSet<ushort> ports)
    {
        if (!NetlinkAttributeReader.TryFind(tuple, CTA_TUPLE_PROTO, out NetlinkAttribute proto))
        {
            return false;
        }

        byte num = 0;
        int port = -1;
        foreach (NetlinkAttribute a in proto.Nested)
        {
            if (a.Type == CTA_PROTO_NUM && a.Payload.Length >= 1)
            {
                num = a.Payload[0];
            }
            else if (a.Type == CTA_PROTO_DST_PORT && a.Payload.Length >= 2)
            {
                port = BinaryPrimitives.ReadUInt16BigEndian(a.Payload);
            }
        }

        return num == IPPROTO_UDP && port >= 0 && ports.Contains((ushort)port);
    }
}
