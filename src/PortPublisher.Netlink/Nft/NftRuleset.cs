using System.Buffers.Binary;
using System.Net;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft.Expressions;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// The port-publishing ruleset of nftables-netlink.md §6, per family: maps <c>published</c> (daddr . l4proto . dport)
/// and <c>published_any</c> (l4proto . dport), each with a per-element counter; nat chains prerouting and output
/// (specific map first, a miss falls through to the wildcard map); a hairpin filter chain at dstnat + 10 that marks
/// DNAT'ed connections reached back through their input interface; postrouting that masquerades those and (ip only)
/// 127/8-sourced ones; and (ip only) a raw-priority guard dropping packets to 127.0.0.0/8 from any interface but lo.
/// </summary>
/// <remarks>
/// What it costs per packet, beside a one-rule nft map: the nat chains and the map lookups (with their element
/// counters) run for a connection's first packet only (nf_nat evaluates a nat chain once per conntrack), so every
/// further packet pays just the two filter chains, guard and hairpin. Their rules are ordered so that a packet that
/// is neither is dismissed by the first, cheapest test: the guard looks at one byte of the destination before it
/// loads the 16-byte input interface name, and the hairpin rule at the conntrack status (DNAT'ed and not yet
/// confirmed: the first packet) before its FIB lookup. Measured on the bench's veth topology (kernel 6.18, UDP,
/// minimum of 400 bursts; bench/README.md): the two chains cost ~250 ns per packet as first written (the guard's
/// iifname test first, the hairpin's <c>ct state new</c>), ~150 ns now; and a one-way UDP flow, whose conntrack stays
/// NEW until a reply, no longer pays a FIB lookup per packet (~250 ns more).
/// </remarks>
internal static class NftRuleset
{
    public const string PublishedMap = "published";
    public const string PublishedAnyMap = "published_any";
    public const uint PublishedSetId = 1;
    public const uint PublishedAnySetId = 2;

    /// <summary>The chains, in creation order, with (type, hook, priority).</summary>
    public static readonly (string Name, string Type, uint Hook, int Priority)[] Chains =
    [
        ("prerouting", "nat", NfTables.NF_INET_PRE_ROUTING, -100),
        ("output", "nat", NfTables.NF_INET_LOCAL_OUT, -100),
        ("hairpin", "filter", NfTables.NF_INET_PRE_ROUTING, -90),
        ("postrouting", "nat", NfTables.NF_INET_POST_ROUTING, 100),
    ];

    public const string GuardChain = "guard";

    /// <summary>Comments of the rules each chain holds, in order; the drift check compares against these.</summary>
    public static IReadOnlyList<(string Chain, string Comment)> ExpectedRules(byte family, NftablesOptions options)
    {
        var rules = new List<(string, string)>
        {
            ("prerouting", "portpublisher: dnat specific"),
            ("prerouting", "portpublisher: dnat wildcard"),
            ("output", "portpublisher: dnat specific"),
            ("output", family == NfNetlink.NFPROTO_IPV4 && options.LoopbackByProxy ? "portpublisher: dnat wildcard but 127/8" : "portpublisher: dnat wildcard"),
            ("hairpin", "portpublisher: mark hairpin on first packet"),
        };
        if (family == NfNetlink.NFPROTO_IPV4)
        {
            rules.Add(("postrouting", "portpublisher: masquerade loopback"));
        }

        rules.Add(("postrouting", "portpublisher: masquerade hairpin"));
        if (family == NfNetlink.NFPROTO_IPV4 && options.LoopbackGuard)
        {
            rules.Add((GuardChain, "portpublisher: loopback guard, 127/8 first"));
        }

        return rules;
    }

    /// <summary>Adds the table with its maps, chains and rules (not its elements) to a batch.</summary>
    public static void AddDefinition(NftBatch batch, byte family, NftablesOptions options, uint tableFlags = 0)
    {
        bool v6 = family == NfNetlink.NFPROTO_IPV6;
        string t = options.TableName;
        uint addrType = v6 ? NfTables.TYPE_IP6ADDR : NfTables.TYPE_IPADDR;
        uint alen = v6 ? 16u : 4u;
        batch.AddTable(family, t, tableFlags);
        batch.AddMap(family, t, PublishedMap, Concat(addrType, NfTables.TYPE_INET_PROTOCOL, NfTables.TYPE_INET_SERVICE), alen + 8, Concat(addrType, NfTables.TYPE_INET_SERVICE), alen + 4, PublishedSetId, counter: true);
        batch.AddMap(family, t, PublishedAnyMap, Concat(NfTables.TYPE_INET_PROTOCOL, NfTables.TYPE_INET_SERVICE), 8, Concat(addrType, NfTables.TYPE_INET_SERVICE), alen + 4, PublishedAnySetId, counter: true);
        foreach ((string name, string type, uint hook, int prio) in Chains)
        {
            batch.AddChain(family, t, name, type, hook, prio);
        }

        bool guard = !v6 && options.LoopbackGuard;
        if (guard)
        {
            batch.AddChain(family, t, GuardChain, "filter", NfTables.NF_INET_PRE_ROUTING, -300);
        }

        IReadOnlyList<(string Chain, string Comment)> expected = ExpectedRules(family, options);
        int i = 0;
        void Rule(IReadOnlyList<NftExpression> exprs)
        {
            (string chain, string comment) = expected[i++];
            batch.AddRule(family, t, chain, exprs, options.Comments ? comment : null);
        }

        Rule(Dnat(family, specific: true, output: false));
        Rule(Dnat(family, specific: false, output: false));
        Rule(Dnat(family, specific: true, output: true));
        Rule(Dnat(family, specific: false, output: true, skipLoopback4: options.LoopbackByProxy));
        Rule(Hairpin(options.HairpinMark));
        if (!v6)
        {
            Rule([.. CtStatusDnat(), new PayloadExpression(NfTables.NFT_REG_1, NfTables.NFT_PAYLOAD_NETWORK_HEADER, 12, 1), new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, [0x7f]), new MasqExpression()]);
        }

        Rule([.. CtStatusDnat(),
            new CtLoadExpression(NfTables.NFT_REG_1, NfTables.NFT_CT_MARK),
            new BitwiseExpression(NfTables.NFT_REG_1, NfTables.NFT_REG_1, Host32(options.HairpinMark), Host32(0)),
            new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, Host32(options.HairpinMark)),
            new MasqExpression()]);
        if (guard)
        {
            // ip daddr 127.0.0.0/8 iifname != "lo" counter drop (nft shortens /8 to one byte and compares IFNAMSIZ
            // bytes). The destination first: one byte and a compare dismiss nearly every packet, where loading the
            // interface name first cost every packet a 16-byte copy and compare (~100 ns on the bench's veths).
            var lo = new byte[16];
            lo[0] = (byte)'l';
            lo[1] = (byte)'o';
            Rule([
                new PayloadExpression(NfTables.NFT_REG_1, NfTables.NFT_PAYLOAD_NETWORK_HEADER, 16, 1),
                new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, [0x7f]),
                new MetaExpression(NfTables.NFT_REG_1, NfTables.NFT_META_IIFNAME),
                new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_NEQ, lo),
                new CounterExpression(),
                new VerdictExpression(NfTables.NF_DROP)]);
        }
    }

    /// <summary>Which map a binding lives in, and its element (key zero-padded per field; value address . port).</summary>
    public static (string Map, NftElement Element) ElementOf(NatBinding b)
    {
        ArgumentNullException.ThrowIfNull(b);
        int alen = b.IsIPv6 ? 16 : 4;
        if (b.HostIp is not null && b.HostIp.AddressFamily != b.TargetIp.AddressFamily)
        {
            throw new ArgumentException($"{b}: NAT cannot join {b.HostIp.AddressFamily} to {b.TargetIp.AddressFamily}; such a binding needs the proxy", nameof(b));
        }

        var data = new byte[alen + 4];
        b.TargetIp.TryWriteBytes(data, out _);
        BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(alen), b.TargetPort);

        bool wildcard = b.HostIp is null || b.HostIp.Equals(IPAddress.Any) || b.HostIp.Equals(IPAddress.IPv6Any);
        byte proto = ProtocolNumber(b.Protocol);
        if (wildcard)
        {
            var key = new byte[8];
            key[0] = proto;
            BinaryPrimitives.WriteUInt16BigEndian(key.AsSpan(4), b.HostPort);
            return (PublishedAnyMap, new NftElement(key, data));
        }

        var skey = new byte[alen + 8];
        b.HostIp!.TryWriteBytes(skey, out _);
        skey[alen] = proto;
        BinaryPrimitives.WriteUInt16BigEndian(skey.AsSpan(alen + 4), b.HostPort);
        return (PublishedMap, new NftElement(skey, data));
    }

    /// <summary>The inverse of <see cref="ElementOf"/> for a dumped element.</summary>
    public static NatBinding? BindingOf(string map, bool v6, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        int alen = v6 ? 16 : 4;
        if (data.Length != alen + 4)
        {
            return null;
        }

        var target = new IPAddress(data[..alen]);
        ushort targetPort = BinaryPrimitives.ReadUInt16BigEndian(data[alen..]);
        IPAddress? host = null;
        if (map == PublishedMap)
        {
            if (key.Length != alen + 8)
            {
                return null;
            }

            host = new IPAddress(key[..alen]);
            key = key[alen..];
        }
        else if (key.Length != 8)
        {
            return null;
        }

        Protocol? protocol = key[0] switch { 6 => Protocol.Tcp, 17 => Protocol.Udp, 132 => Protocol.Sctp, _ => null };
        return protocol is null ? null : new NatBinding(host, protocol.Value, BinaryPrimitives.ReadUInt16BigEndian(key[4..]), target, targetPort);
    }

    public static byte ProtocolNumber(Protocol p) => p switch
    {
        Protocol.Tcp => 6,
        Protocol.Udp => 17,
        Protocol.Sctp => 132,
        _ => throw new ArgumentOutOfRangeException(nameof(p)),
    };

    /// <summary>nft's concatenated datatype id: 6 bits per field.</summary>
    public static uint Concat(params uint[] types)
    {
        uint t = 0;
        foreach (uint x in types)
        {
            t = (t << NfTables.TYPE_BITS) | x;
        }

        return t;
    }

    /// <summary>Values meta/ct/fib leave in a register are in host order.</summary>
    public static byte[] Host32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, v);
        }

        return b;
    }

    /// <summary>
    /// fib daddr type local → (specific: ip daddr .) l4proto . dport looked up → dnat to addr . port. In the ip6 output
    /// chain, ::1 is left alone: the kernel never routes it off lo, so a DNAT'ed ::1 connection could only fail; the
    /// service's proxy, listening on the [::] socket, serves it instead (as docker-proxy does).
    /// </summary>
    private static NftExpression[] Dnat(byte family, bool specific, bool output, bool skipLoopback4 = false)
    {
        bool v6 = family == NfNetlink.NFPROTO_IPV6;
        uint r = NfTables.NFT_REG32_00;
        uint afterAddr = r + (v6 ? 4u : 1u);
        var e = new List<NftExpression>
        {
            new FibExpression(NfTables.NFT_REG_1, NfTables.NFT_FIB_RESULT_ADDRTYPE, NfTables.NFTA_FIB_F_DADDR),
            new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, Host32(NfTables.RTN_LOCAL)),
        };
        if (v6 && output)
        {
            e.Add(new PayloadExpression(NfTables.NFT_REG_1, NfTables.NFT_PAYLOAD_NETWORK_HEADER, 24, 16));
            e.Add(new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_NEQ, IPAddress.IPv6Loopback.GetAddressBytes()));
        }

        if (!v6 && output && skipLoopback4)
        {
            // ip daddr != 127.0.0.0/8, as nft encodes it: the /8 shortened to its first byte.
            e.Add(new PayloadExpression(NfTables.NFT_REG_1, NfTables.NFT_PAYLOAD_NETWORK_HEADER, 16, 1));
            e.Add(new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_NEQ, [0x7f]));
        }

        if (specific)
        {
            e.Add(new PayloadExpression(r, NfTables.NFT_PAYLOAD_NETWORK_HEADER, v6 ? 24u : 16u, v6 ? 16u : 4u));
            e.Add(new MetaExpression(afterAddr, NfTables.NFT_META_L4PROTO));
            e.Add(new PayloadExpression(afterAddr + 1, NfTables.NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
            e.Add(new LookupExpression(PublishedMap, r, r, PublishedSetId));
        }
        else
        {
            e.Add(new MetaExpression(r, NfTables.NFT_META_L4PROTO));
            e.Add(new PayloadExpression(r + 1, NfTables.NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2));
            e.Add(new LookupExpression(PublishedAnyMap, r, r, PublishedAnySetId));
        }

        // The lookup wrote the value (address . port) from r: the address first, the port right after it.
        e.Add(new NatExpression(NfTables.NFT_NAT_DNAT, family, r, afterAddr));
        return [.. e];
    }

    private static NftExpression[] CtStatusDnat() =>
    [
        new CtLoadExpression(NfTables.NFT_REG_1, NfTables.NFT_CT_STATUS),
        new BitwiseExpression(NfTables.NFT_REG_1, NfTables.NFT_REG_1, Host32(NfTables.IPS_DST_NAT), Host32(0)),
        new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_NEQ, Host32(0)),
    ];

    /// <summary>
    /// ct status &amp; (dnat | confirmed) == dnat fib daddr . iif oif exists ct mark set ct mark | MARK: on a DNAT'ed
    /// connection's first packet only (its conntrack is confirmed once that packet has passed the last hook), which is
    /// when postrouting's nat chain decides to masquerade. <c>ct state new</c> did not say "first": an unreplied UDP
    /// flow stays NEW, and each of its packets paid the FIB lookup.
    /// </summary>
    private static NftExpression[] Hairpin(uint mark) =>
    [
        new CtLoadExpression(NfTables.NFT_REG_1, NfTables.NFT_CT_STATUS),
        new BitwiseExpression(NfTables.NFT_REG_1, NfTables.NFT_REG_1, Host32(NfTables.IPS_DST_NAT | NfTables.IPS_CONFIRMED), Host32(0)),
        new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, Host32(NfTables.IPS_DST_NAT)),
        new FibExpression(NfTables.NFT_REG_1, NfTables.NFT_FIB_RESULT_OIF, NfTables.NFTA_FIB_F_DADDR | NfTables.NFTA_FIB_F_IIF | NfTables.NFTA_FIB_F_PRESENT),
        new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, Host32(1)),
        new CtLoadExpression(NfTables.NFT_REG_1, NfTables.NFT_CT_MARK),
        new BitwiseExpression(NfTables.NFT_REG_1, NfTables.NFT_REG_1, Host32(~mark), Host32(mark)),
        new CtSetExpression(NfTables.NFT_REG_1, NfTables.NFT_CT_MARK),
    ];
}
