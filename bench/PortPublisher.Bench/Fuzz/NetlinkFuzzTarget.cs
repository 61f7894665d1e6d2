using System.Diagnostics;
using System.Net;
using CsCheck;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Conntrack;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;
using PortPublisher.Netlink.Route;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// Everything that reads what the kernel sends, fed one datagram: the message and attribute walkers, NLMSG_ERROR
/// (the acks of every request and batch), the consistency check of dumps, the element/chain/rule readers of the NAT
/// backend's list and verify path, the nf_tables event decoder, the rtnetlink link/address/route readers and the
/// conntrack entry reader. The property: each returns, or throws <see cref="NetlinkProtocolException"/> (the event
/// decoder, on a thread where nothing catches, may not throw at all); no case takes a second or allocates more than
/// <see cref="AllocationBound"/>.
/// </summary>
internal sealed class NetlinkFuzzTarget
{
    // rtnetlink.h: the reply types the readers want.
    private const ushort RTM_NEWLINK = 16;
    private const ushort RTM_NEWADDR = 20;
    private const ushort RTM_NEWROUTE = 24;

    /// <summary>Attribute walks go no deeper (the kernel's own nests are at most 5 deep in what we read).</summary>
    private const int MaxDepth = 16;

    private static readonly HashSet<ushort> s_ports = [0, 53, 5353, 65535];
    private static readonly Dictionary<int, string> s_names = new() { [1] = "lo", [7] = "veth-web" };
    private static readonly IPAddress s_destination = IPAddress.Parse("10.99.0.2");

    private static readonly string[] s_strings = ["counter", "portpublisher", "published", "published_any", "prerouting", "lo", "", "x"];

    private static readonly ushort[] s_types =
    [
        LinuxNetlink.NLMSG_ERROR, LinuxNetlink.NLMSG_DONE, LinuxNetlink.NLMSG_NOOP, RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE,
        Nft(NfTables.NFT_MSG_NEWTABLE), Nft(NfTables.NFT_MSG_NEWCHAIN), Nft(NfTables.NFT_MSG_NEWRULE), Nft(NfTables.NFT_MSG_NEWSET),
        Nft(NfTables.NFT_MSG_NEWSETELEM), Nft(NfTables.NFT_MSG_NEWGEN), Nft(NfTables.NFT_MSG_DELTABLE), Nft(0xff), NfNetlink.NFNL_SUBSYS_CTNETLINK << 8,
    ];

    private static readonly ushort[] s_flags =
    [
        0, LinuxNetlink.NLM_F_MULTI, LinuxNetlink.NLM_F_DUMP_INTR, LinuxNetlink.NLM_F_ACK_TLVS,
        LinuxNetlink.NLM_F_ACK_TLVS | LinuxNetlink.NLM_F_CAPPED, 0xffff,
    ];

    public NetlinkFuzzTarget(IReadOnlyList<byte[]> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0)
        {
            throw new ArgumentException("at least one seed", nameof(seeds));
        }

        Seeds = seeds;
        Gen<byte[]> mutated = Gen.Select(Gen.Int[0, seeds.Count - 1], Gen.Int[0, seeds.Count - 1], Gen.ULong)
            .Select((a, b, state) => ByteMutator.Mutate(seeds[a], seeds[b], state));
        Gen<byte[]> structured = Structured.Array[1, 3].Select(ms => ms.SelectMany(m => m).ToArray());
        Inputs = Gen.Frequency((6, mutated), (3, structured), (1, Gen.Byte.Array[0, 512]));
    }

    public IReadOnlyList<byte[]> Seeds { get; }

    /// <summary>Mutated seeds (most), CsCheck-built messages with random attribute trees, and plain random bytes.</summary>
    public Gen<byte[]> Inputs { get; }

    public NetlinkReach Reach { get; } = new();

    /// <summary>Bytes one case may allocate: every reader together copies, names and decodes the datagram a few times over.</summary>
    public static long AllocationBound(int inputLength) => (64L * inputLength) + (256 * 1024);

    /// <summary>
    /// A message of a random type and flags, a fixed header of a random size (nfgenmsg 4, ifaddrmsg 8, rtmsg 12,
    /// ifinfomsg 16, NLMSG_ERROR 20), then attributes written by a little program: open a nest, close one, a
    /// payload of an awkward length, a string the readers compare against.
    /// </summary>
    private static Gen<byte[]> Structured { get; } = Gen.Select(
            Gen.OneOf(Gen.Int[0, s_types.Length - 1].Select(i => s_types[i]), Gen.UShort),
            Gen.Int[0, s_flags.Length - 1].Select(i => s_flags[i]),
            Gen.OneOf(Gen.Const(0), Gen.Const(4), Gen.Const(8), Gen.Const(12), Gen.Const(16), Gen.Const(20)),
            Gen.UShort.Array[0, 48],
            Gen.Byte.Array[24, 160])
        .Select((type, flags, fixedLen, ops, pool) => Program(type, flags, fixedLen, ops, pool));

    public FuzzResult Run(byte[] datagram)
    {
        ArgumentNullException.ThrowIfNull(datagram);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        FuzzResult result = Read(datagram);
        clock.Stop();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        if (clock.ElapsedMilliseconds > 1000)
        {
            result = result.Worst(FuzzResult.Failure("slow: a case took over a second", $"{clock.ElapsedMilliseconds} ms for {datagram.Length} bytes"));
        }

        if (allocated > AllocationBound(datagram.Length))
        {
            result = result.Worst(FuzzResult.Failure("allocation past the bound", $"{allocated:N0} bytes allocated for a {datagram.Length}-byte datagram"));
        }

        return result;
    }

    private static ushort Nft(ushort msg) => (ushort)((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | msg);

    private static byte[] Program(ushort type, ushort flags, int fixedLen, ushort[] ops, byte[] pool)
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage(type, flags, seq: 1, pid: 0);
        w.WriteRaw(pool.AsSpan(0, Math.Min(fixedLen, pool.Length)));
        var open = new Stack<int>();
        int cursor = 0;
        foreach (ushort op in ops)
        {
            ushort attr = (ushort)((op >> 8) % 20);
            switch (op & 3)
            {
                case 0 when open.Count < 6:
                    open.Push(w.BeginNested(attr));
                    break;
                case 1 when open.Count > 0:
                    w.EndNested(open.Pop());
                    break;
                case 2:
                    int[] lengths = [0, 1, 2, 3, 4, 5, 8, 16, 20, 33];
                    int len = lengths[(op >> 2) % lengths.Length];
                    var payload = new byte[len];
                    for (int i = 0; i < len; i++)
                    {
                        payload[i] = pool[(cursor + i) % pool.Length];
                    }

                    cursor += len;
                    w.WriteAttribute(attr, payload);
                    break;
                default:
                    w.WriteString(attr, s_strings[(op >> 2) % s_strings.Length]);
                    break;
            }
        }

        while (open.Count > 0)
        {
            w.EndNested(open.Pop());
        }

        w.EndMessage(m);
        return w.WrittenSpan.ToArray();
    }

    private FuzzResult Read(byte[] datagram)
    {
        FuzzResult result = FuzzResult.Value;
        var replies = new List<NetlinkReply>();
        var reader = new NetlinkMessageReader(datagram);
        int messages = 0;
        while (reader.MoveNext())
        {
            // Each message takes at least a header: more than that many means the walk went backwards or stood still.
            if (++messages > (datagram.Length / LinuxNetlink.NLMSG_HDRLEN) + 1)
            {
                return FuzzResult.Failure("message walk did not advance", $"{messages} messages from {datagram.Length} bytes");
            }

            NetlinkMessage m = reader.Current;
            byte[] payload = m.Payload.ToArray();
            replies.Add(new NetlinkReply(m.Type, m.Flags, payload));
            if (m.Type == LinuxNetlink.NLMSG_ERROR)
            {
                try
                {
                    NftConnection.ParseError(m);
                    Reach.Error();
                }
                catch (Exception e)
                {
                    result = result.Worst(Classify("NftConnection.ParseError", e));
                }
            }

            result = result.Worst(ReadPayload(m.Type, payload));
        }

        Reach.Messages(messages);
        if (reader.Error)
        {
            Reach.Malformed();
        }

        try
        {
            foreach (uint generation in new[] { 0u, replies.Count > 0 && replies[0].Payload.Length >= 4 ? (uint)((replies[0].Payload[2] << 8) | replies[0].Payload[3]) : 7u })
            {
                if (NftConnection.ConsistentPayloads(replies, generation, "fuzz dump") is not null)
                {
                    Reach.Dump();
                }
            }
        }
        catch (Exception e)
        {
            result = result.Worst(Classify("NftConnection.ConsistentPayloads", e));
        }

        try
        {
            long events = 0;
            NftEventMonitor.Decode(datagram, _ => events++);
            Reach.Events(events);
        }
        catch (Exception e)
        {
            // The monitor's thread has no handler: any exception there ends the process.
            result = result.Worst(FuzzResult.Unexpected("NftEventMonitor.Decode", e));
        }

        return result;
    }

    /// <summary>Every payload reader, each on its own so one rejection does not hide another reader's crash.</summary>
    private FuzzResult ReadPayload(ushort type, byte[] payload)
    {
        FuzzResult result = FuzzResult.Value;
        foreach (int header in new[] { 0, 4, 8, 12, 16 })
        {
            if (payload.Length >= header)
            {
                result = result.Worst(Walk(payload.AsSpan(header), 0));
            }
        }

        result = result.Worst(Call("RouteNetlink.ReadLink", () =>
        {
            if (RouteNetlink.ReadLink(type, payload) is not null | RouteNetlink.ReadLink(RTM_NEWLINK, payload) is not null)
            {
                Reach.Link();
            }
        }));
        result = result.Worst(Call("RouteNetlink.ReadAddress", () =>
        {
            if (RouteNetlink.ReadAddress(type, payload, s_names) is not null | RouteNetlink.ReadAddress(RTM_NEWADDR, payload, s_names) is not null)
            {
                Reach.Address();
            }
        }));
        result = result.Worst(Call("RouteNetlink.ReadRoute", () =>
        {
            RouteNetlink.ReadRoute(type, payload, s_destination);
            if (RouteNetlink.ReadRoute(RTM_NEWROUTE, payload, s_destination) is not null)
            {
                Reach.Route();
            }
        }));
        result = result.Worst(Call("ConntrackNetlink.ReadUdpEntryTo", () =>
        {
            if (ConntrackNetlink.ReadUdpEntryTo(payload, s_ports) is not null)
            {
                Reach.Conntrack();
            }
        }));

        if (payload.Length < NfNetlink.NFGENMSG_LEN)
        {
            return result;
        }

        // The NAT backend's readers get what follows the nfgenmsg.
        byte[] attrs = payload[NfNetlink.NFGENMSG_LEN..];
        result = result.Worst(Call("NftDumpParser.ReadElements", () =>
        {
            var into = new List<NatBindingCounter>();
            foreach (string map in new[] { NftRuleset.PublishedMap, NftRuleset.PublishedAnyMap })
            {
                NftDumpParser.ReadElements(attrs, map, v6: false, into);
                NftDumpParser.ReadElements(attrs, map, v6: true, into);
            }

            Reach.Bindings(into.Count);
        }));
        result = result.Worst(Call("NftDumpParser.ReadChain", () =>
        {
            if (NftDumpParser.ReadChain(attrs).Name.Length > 0)
            {
                Reach.Chain();
            }
        }));
        result = result.Worst(Call("NftDumpParser.ReadRuleIdentity", () =>
        {
            if (NftDumpParser.ReadRuleIdentity(attrs).Comment.Length > 0)
            {
                Reach.Comment();
            }
        }));
        return result;
    }

    /// <summary>Walks every attribute, nests included, reading the first of each run with every typed getter the codec has.</summary>
    private static FuzzResult Walk(ReadOnlySpan<byte> attributes, int depth)
    {
        FuzzResult result = FuzzResult.Value;
        var r = new NetlinkAttributeReader(attributes);
        int count = 0;
        while (r.MoveNext())
        {
            if (++count > (attributes.Length / LinuxNetlink.NLA_HDRLEN) + 1)
            {
                return FuzzResult.Failure("attribute walk did not advance", $"{count} attributes from {attributes.Length} bytes");
            }

            NetlinkAttribute a = r.Current;
            try
            {
                _ = a.Type | (a.IsNested ? 1 : 0);
                if (count == 1)
                {
                    _ = a.GetString();
                    _ = a.GetUInt32() + a.GetUInt32BigEndian() + a.GetUInt64BigEndian();
                }
            }
            catch (NetlinkProtocolException)
            {
                // The harness calls every getter whatever the length: the documented refusal is no verdict on a reader.
            }
            catch (Exception e)
            {
                result = result.Worst(FuzzResult.Unexpected("NetlinkAttribute getters", e));
            }

            if (depth < MaxDepth && a.Payload.Length >= LinuxNetlink.NLA_HDRLEN)
            {
                result = result.Worst(Walk(a.Payload, depth + 1));
            }
        }

        return result;
    }

    private static FuzzResult Call(string reader, Action read)
    {
        try
        {
            read();
            return FuzzResult.Value;
        }
        catch (Exception e)
        {
            return Classify(reader, e);
        }
    }

    private static FuzzResult Classify(string reader, Exception e) =>
        e is NetlinkProtocolException ? FuzzResult.Rejected($"{reader}: {nameof(NetlinkProtocolException)}") : FuzzResult.Unexpected(reader, e);
}
