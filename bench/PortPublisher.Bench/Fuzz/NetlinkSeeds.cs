using System.Net;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// Well-formed datagrams of every kind the readers take, built by our own writers: the batch that installs the
/// ruleset (NEWTABLE, NEWSET, NEWCHAIN, NEWRULE with comments, NEWSETELEM), element dumps with counters as the kernel
/// answers GETSETELEM, acks and errors with extended-ack TLVs, NEWGEN and table events, rtnetlink links, addresses
/// and routes, and conntrack entries. The mutator starts from these, so its cases get past the first header.
/// </summary>
internal static class NetlinkSeeds
{
    // rtnetlink.h and nfnetlink_conntrack.h; the codec keeps its own copies private.
    private const ushort RTM_NEWLINK = 16;
    private const ushort RTM_NEWADDR = 20;
    private const ushort RTM_NEWROUTE = 24;
    private const ushort IPCTNL_MSG_CT_NEW = 0;

    public static List<byte[]> Build()
    {
        var seeds = new List<byte[]>();
        NatBinding[] v4 =
        [
            new(IPAddress.Parse("192.0.2.1"), Protocol.Tcp, 8080, IPAddress.Parse("10.99.0.2"), 80),
            new(null, Protocol.Udp, 5353, IPAddress.Parse("10.99.0.2"), 53),
            new(IPAddress.Any, Protocol.Sctp, 9000, IPAddress.Parse("10.99.0.2"), 9000),
        ];
        NatBinding[] v6 =
        [
            new(IPAddress.Parse("2001:db8::1"), Protocol.Tcp, 8443, IPAddress.Parse("fd00::2"), 443),
            new(null, Protocol.Udp, 5353, IPAddress.Parse("fd00::2"), 53),
        ];

        // The ruleset batch exactly as InstallOrReplace sends it, and each of its messages alone.
        var batch = new NftBatch();
        foreach ((byte family, NatBinding[] bindings) in new[] { (NfNetlink.NFPROTO_IPV4, v4), (NfNetlink.NFPROTO_IPV6, v6) })
        {
            batch.AddTable(family, "portpublisher");
            batch.DeleteTable(family, "portpublisher");
            NftRuleset.AddDefinition(batch, family, new NftablesOptions());
            foreach (IGrouping<string, (string Map, NftElement Element)> map in bindings.Select(NftRuleset.ElementOf).GroupBy(e => e.Map))
            {
                batch.AddElements(family, "portpublisher", map.Key, [.. map.Select(e => e.Element)], exclusive: true);
            }
        }

        byte[] whole = NftConnection.EncodeOnly(batch, 100, generation: 7);
        seeds.Add(whole);
        seeds.AddRange(Split(whole));

        // GETSETELEM dump replies: one message per map with per-element counters (old and new attribute), then DONE.
        foreach ((byte family, NatBinding[] bindings) in new[] { (NfNetlink.NFPROTO_IPV4, v4), (NfNetlink.NFPROTO_IPV6, v6) })
        {
            var w = new NetlinkWriter();
            foreach (IGrouping<string, (string Map, NftElement Element)> map in bindings.Select(NftRuleset.ElementOf).GroupBy(e => e.Map))
            {
                WriteElementDump(w, family, map.Key, [.. map.Select(e => e.Element)], listCounters: family == NfNetlink.NFPROTO_IPV6);
            }

            Done(w, 9);
            seeds.Add(w.WrittenSpan.ToArray());
        }

        seeds.Add(Ack(seq: 101, errno: 0, capped: true, extack: false));
        seeds.Add(Ack(seq: 102, errno: 17, capped: false, extack: true));
        seeds.Add(Ack(seq: 103, errno: 2, capped: true, extack: true));
        seeds.Add(NewGen(generation: 42));
        seeds.Add(TableEvent(NfTables.NFT_MSG_DELTABLE, "portpublisher"));
        seeds.Add(Links());
        seeds.Add(Addresses());
        seeds.Add(Route());
        seeds.Add(ConntrackEntry());
        return seeds;
    }

    /// <summary>Each message of a datagram as a datagram of its own.</summary>
    public static IEnumerable<byte[]> Split(byte[] datagram)
    {
        var r = new NetlinkMessageReader(datagram);
        int at = 0;
        var parts = new List<byte[]>();
        while (r.MoveNext())
        {
            int len = LinuxNetlink.NLMSG_HDRLEN + r.Current.Payload.Length;
            parts.Add(datagram.AsSpan(at, len).ToArray());
            at += LinuxNetlink.Align(len);
        }

        return parts;
    }

    private static void WriteElementDump(NetlinkWriter w, byte family, string set, IReadOnlyList<NftElement> elements, bool listCounters)
    {
        int m = w.BeginMessage((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | NfTables.NFT_MSG_NEWSETELEM, LinuxNetlink.NLM_F_MULTI, 9, 4242);
        w.WriteNfGenMsg(family, 7);
        w.WriteString(NfTables.NFTA_SET_ELEM_LIST_TABLE, "portpublisher");
        w.WriteString(NfTables.NFTA_SET_ELEM_LIST_SET, set);
        int list = w.BeginNested(NfTables.NFTA_SET_ELEM_LIST_ELEMENTS);
        ulong n = 1;
        foreach (NftElement e in elements)
        {
            int elem = w.BeginNested(NfTables.NFTA_LIST_ELEM);
            int key = w.BeginNested(NfTables.NFTA_SET_ELEM_KEY);
            w.WriteAttribute(NfTables.NFTA_DATA_VALUE, e.Key);
            w.EndNested(key);
            int data = w.BeginNested(NfTables.NFTA_SET_ELEM_DATA);
            w.WriteAttribute(NfTables.NFTA_DATA_VALUE, e.Data);
            w.EndNested(data);
            int exprs = listCounters ? w.BeginNested(NfTables.NFTA_SET_ELEM_EXPRESSIONS) : -1;
            int expr = w.BeginNested(listCounters ? NfTables.NFTA_LIST_ELEM : NfTables.NFTA_SET_ELEM_EXPR);
            w.WriteString(NfTables.NFTA_EXPR_NAME, "counter");
            int counter = w.BeginNested(NfTables.NFTA_EXPR_DATA);
            w.WriteUInt64BigEndian(NfTables.NFTA_COUNTER_BYTES, 60 * n);
            w.WriteUInt64BigEndian(NfTables.NFTA_COUNTER_PACKETS, n++);
            w.EndNested(counter);
            w.EndNested(expr);
            if (exprs >= 0)
            {
                w.EndNested(exprs);
            }

            w.EndNested(elem);
        }

        w.EndNested(list);
        w.EndMessage(m);
    }

    private static void Done(NetlinkWriter w, uint seq)
    {
        int m = w.BeginMessage(LinuxNetlink.NLMSG_DONE, LinuxNetlink.NLM_F_MULTI, seq);
        w.WriteRaw([0, 0, 0, 0]);
        w.EndMessage(m);
    }

    /// <summary>NLMSG_ERROR: -errno, the request's header (all of the request when not capped), then extended-ack TLVs.</summary>
    private static byte[] Ack(uint seq, int errno, bool capped, bool extack)
    {
        var request = new NetlinkWriter();
        int rm = request.BeginMessage((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | NfTables.NFT_MSG_NEWTABLE, LinuxNetlink.NLM_F_REQUEST | LinuxNetlink.NLM_F_ACK, seq);
        request.WriteNfGenMsg(NfNetlink.NFPROTO_IPV4);
        request.WriteString(NfTables.NFTA_TABLE_NAME, "portpublisher");
        request.EndMessage(rm);

        var w = new NetlinkWriter();
        ushort flags = (ushort)((capped ? LinuxNetlink.NLM_F_CAPPED : 0) | (extack ? LinuxNetlink.NLM_F_ACK_TLVS : 0));
        int m = w.BeginMessage(LinuxNetlink.NLMSG_ERROR, flags, seq);
        Span<byte> code = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(code, -errno);
        w.WriteRaw(code);
        w.WriteRaw(capped ? request.WrittenSpan[..LinuxNetlink.NLMSG_HDRLEN] : request.WrittenSpan);
        if (extack)
        {
            w.WriteString(LinuxNetlink.NLMSGERR_ATTR_MSG, "Could not process rule: File exists");
            Span<byte> offs = stackalloc byte[4];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(offs, 20);
            w.WriteAttribute(LinuxNetlink.NLMSGERR_ATTR_OFFS, offs);
        }

        w.EndMessage(m);
        return w.WrittenSpan.ToArray();
    }

    private static byte[] NewGen(uint generation)
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | NfTables.NFT_MSG_NEWGEN, 0, 0, 777);
        w.WriteNfGenMsg(NfNetlink.NFPROTO_UNSPEC, (ushort)generation);
        w.WriteUInt32BigEndian(NfTables.NFTA_GEN_ID, generation);
        w.WriteUInt32BigEndian(NfTables.NFTA_GEN_PROC_PID, 1234);
        w.WriteString(NfTables.NFTA_GEN_PROC_NAME, "nft");
        w.EndMessage(m);
        return w.WrittenSpan.ToArray();
    }

    private static byte[] TableEvent(ushort msg, string table)
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage((ushort)((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | msg), 0, 0, 777);
        w.WriteNfGenMsg(NfNetlink.NFPROTO_IPV4, 42);
        w.WriteString(NfTables.NFTA_TABLE_NAME, table);
        w.WriteUInt32BigEndian(NfTables.NFTA_TABLE_FLAGS, 0);
        w.WriteUInt32BigEndian(NfTables.NFTA_TABLE_USE, 5);
        w.WriteUInt64BigEndian(NfTables.NFTA_TABLE_HANDLE, 3);
        w.EndMessage(m);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>Two RTM_NEWLINK (ifinfomsg: family, type, index, flags, change; IFLA_IFNAME = 3, IFLA_MTU = 4), then DONE.</summary>
    private static byte[] Links()
    {
        var w = new NetlinkWriter();
        foreach ((int index, string name) in new[] { (1, "lo"), (7, "veth-web") })
        {
            int m = w.BeginMessage(RTM_NEWLINK, LinuxNetlink.NLM_F_MULTI, 5);
            byte[] ifinfo = new byte[16];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(ifinfo.AsSpan(4), index);
            w.WriteRaw(ifinfo);
            w.WriteString(3, name);
            w.WriteAttribute(4, BitConverter.GetBytes(1500u));
            w.EndMessage(m);
        }

        Done(w, 5);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>RTM_NEWADDR v4 (IFA_ADDRESS and IFA_LOCAL) and v6 (IFA_ADDRESS only), ifaddrmsg: family, prefix, flags, scope, index.</summary>
    private static byte[] Addresses()
    {
        var w = new NetlinkWriter();
        foreach ((byte family, byte prefix, string address, bool local) in new[] { ((byte)2, (byte)24, "10.99.0.2", true), ((byte)10, (byte)64, "fd00::2", false) })
        {
            int m = w.BeginMessage(RTM_NEWADDR, LinuxNetlink.NLM_F_MULTI, 6);
            byte[] ifaddr = [family, prefix, 0, 0, 7, 0, 0, 0];
            w.WriteRaw(ifaddr);
            byte[] bytes = IPAddress.Parse(address).GetAddressBytes();
            w.WriteAttribute(1, bytes);
            if (local)
            {
                w.WriteAttribute(2, bytes);
            }

            w.WriteString(3, "veth-web");
            w.EndMessage(m);
        }

        Done(w, 6);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>RTM_NEWROUTE (rtmsg, 12 bytes) with RTA_DST = 1, RTA_OIF = 4, RTA_GATEWAY = 5, RTA_PREFSRC = 7.</summary>
    private static byte[] Route()
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage(RTM_NEWROUTE, 0, 8);
        w.WriteRaw([2, 32, 0, 0, 254, 0, 0, 1, 0, 0, 0, 0]);
        w.WriteAttribute(1, IPAddress.Parse("10.99.0.2").GetAddressBytes());
        w.WriteAttribute(4, BitConverter.GetBytes(7u));
        w.WriteAttribute(5, IPAddress.Parse("10.99.0.1").GetAddressBytes());
        w.WriteAttribute(7, IPAddress.Parse("10.99.0.1").GetAddressBytes());
        w.EndMessage(m);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>
    /// A ctnetlink IPCTNL_MSG_CT_NEW: CTA_TUPLE_ORIG { CTA_TUPLE_IP { V4_SRC, V4_DST }, CTA_TUPLE_PROTO { NUM, SRC_PORT,
    /// DST_PORT } }, the reply tuple, and CTA_ZONE, as `conntrack -L` gets them.
    /// </summary>
    private static byte[] ConntrackEntry()
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage((NfNetlink.NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, LinuxNetlink.NLM_F_MULTI, 11);
        w.WriteNfGenMsg(NfNetlink.NFPROTO_IPV4);
        foreach ((ushort tuple, ushort dport) in new[] { ((ushort)1, (ushort)5353), ((ushort)2, (ushort)40000) })
        {
            int t = w.BeginNested(tuple);
            int ip = w.BeginNested(1);
            w.WriteAttribute(1, IPAddress.Parse("10.88.0.3").GetAddressBytes());
            w.WriteAttribute(2, IPAddress.Parse("10.88.0.1").GetAddressBytes());
            w.EndNested(ip);
            int proto = w.BeginNested(2);
            w.WriteAttribute(1, [17]);
            w.WriteAttribute(2, [0x9c, 0x40]);
            w.WriteAttribute(3, [(byte)(dport >> 8), (byte)dport]);
            w.EndNested(proto);
            w.EndNested(t);
        }

        w.WriteAttribute(18, [0, 0]);
        w.EndMessage(m);
        return w.WrittenSpan.ToArray();
    }
}
