using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft.Expressions;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// The operations of one nf_tables transaction, committed in one sendmsg between BATCH_BEGIN and BATCH_END, with
/// NLM_F_ACK on every message. Only operations whose wire form names exactly what they touch can be expressed:
/// no DELRULE (without a chain it flushes the table), no element deletion without elements (that flushes the map),
/// no nameless or family-0 DELTABLE (that is <c>flush ruleset</c>).
/// </summary>
internal sealed class NftBatch
{
    private readonly List<Operation> _ops = [];

    /// <summary>Operations added so far (an element list may still become several messages).</summary>
    public int Count => _ops.Count;

    /// <summary>NEWTABLE without EXCL: creates the table, or succeeds without change if it exists.</summary>
    public void AddTable(byte family, string name, uint? flags = 0) =>
        Add(NfTables.NFT_MSG_NEWTABLE, 0, family, $"add table {FamilyName(family)} {name}", w =>
        {
            w.WriteString(NfTables.NFTA_TABLE_NAME, name);
            if (flags is uint f)
            {
                w.WriteUInt32BigEndian(NfTables.NFTA_TABLE_FLAGS, f);
            }
        });

    /// <summary>DELTABLE by family and name; removes its chains, rules and sets too.</summary>
    public void DeleteTable(byte family, string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (family == NfNetlink.NFPROTO_UNSPEC)
        {
            throw new ArgumentOutOfRangeException(nameof(family), "a family-0 DELTABLE deletes every table");
        }

        Add(NfTables.NFT_MSG_DELTABLE, 0, family, $"delete table {FamilyName(family)} {name}", w => w.WriteString(NfTables.NFTA_TABLE_NAME, name));
    }

    /// <summary>NEWCHAIN; a base chain when <paramref name="hook"/> is given.</summary>
    public void AddChain(byte family, string table, string name, string? type = null, uint? hook = null, int priority = 0, uint policy = NfTables.NF_ACCEPT) =>
        Add(NfTables.NFT_MSG_NEWCHAIN, LinuxNetlink.NLM_F_CREATE, family, $"add chain {FamilyName(family)} {table} {name}", w =>
        {
            w.WriteString(NfTables.NFTA_CHAIN_TABLE, table);
            w.WriteString(NfTables.NFTA_CHAIN_NAME, name);
            if (hook is uint h)
            {
                w.WriteString(NfTables.NFTA_CHAIN_TYPE, type ?? "filter");
                w.WriteUInt32BigEndian(NfTables.NFTA_CHAIN_POLICY, policy);
                int nest = w.BeginNested(NfTables.NFTA_CHAIN_HOOK);
                w.WriteUInt32BigEndian(NfTables.NFTA_HOOK_HOOKNUM, h);
                w.WriteUInt32BigEndian(NfTables.NFTA_HOOK_PRIORITY, unchecked((uint)priority));
                w.EndNested(nest);
            }
        });

    /// <summary>NEWSET for a named map, optionally with a per-element counter template.</summary>
    public void AddMap(byte family, string table, string name, uint keyType, uint keyLen, uint dataType, uint dataLen, uint id, bool counter) =>
        Add(NfTables.NFT_MSG_NEWSET, LinuxNetlink.NLM_F_CREATE, family, $"add map {FamilyName(family)} {table} {name}", w =>
        {
            w.WriteString(NfTables.NFTA_SET_TABLE, table);
            w.WriteString(NfTables.NFTA_SET_NAME, name);
            w.WriteUInt32BigEndian(NfTables.NFTA_SET_FLAGS, NfTables.NFT_SET_MAP);
            w.WriteUInt32BigEndian(NfTables.NFTA_SET_KEY_TYPE, keyType);
            w.WriteUInt32BigEndian(NfTables.NFTA_SET_KEY_LEN, keyLen);
            w.WriteUInt32BigEndian(NfTables.NFTA_SET_DATA_TYPE, dataType);
            w.WriteUInt32BigEndian(NfTables.NFTA_SET_DATA_LEN, dataLen);
            w.WriteUInt32BigEndian(NfTables.NFTA_SET_ID, id);
            if (counter)
            {
                int expr = w.BeginNested(NfTables.NFTA_SET_EXPR);
                w.WriteString(NfTables.NFTA_EXPR_NAME, "counter");
                w.WriteEmptyNested(NfTables.NFTA_EXPR_DATA);
                w.EndNested(expr);
            }
        });

    /// <summary>NEWRULE appended to a chain; <paramref name="comment"/> becomes nft's comment TLV in USERDATA.</summary>
    public void AddRule(byte family, string table, string chain, IReadOnlyList<NftExpression> expressions, string? comment = null)
    {
        ArgumentNullException.ThrowIfNull(expressions);
        byte[]? userdata = comment is null ? null : CommentUserData(comment);
        Add(NfTables.NFT_MSG_NEWRULE, LinuxNetlink.NLM_F_CREATE | LinuxNetlink.NLM_F_APPEND, family, $"add rule {FamilyName(family)} {table} {chain}", w =>
        {
            w.WriteString(NfTables.NFTA_RULE_TABLE, table);
            w.WriteString(NfTables.NFTA_RULE_CHAIN, chain);
            int list = w.BeginNested(NfTables.NFTA_RULE_EXPRESSIONS);
            foreach (NftExpression e in expressions)
            {
                e.Encode(w);
            }

            w.EndNested(list);
            if (userdata is not null)
            {
                w.WriteAttribute(NfTables.NFTA_RULE_USERDATA, userdata);
            }
        });
    }

    /// <summary>NEWSETELEM (CREATE, plus EXCL when <paramref name="exclusive"/>): split over several messages when one would pass 64 KiB.</summary>
    public void AddElements(byte family, string table, string set, IReadOnlyList<NftElement> elements, bool exclusive = false, uint? setId = null)
    {
        ArgumentNullException.ThrowIfNull(elements);
        if (elements.Count == 0)
        {
            return;
        }

        ushort flags = (ushort)(LinuxNetlink.NLM_F_CREATE | (exclusive ? LinuxNetlink.NLM_F_EXCL : 0));
        _ops.Add(new ElementOperation(NfTables.NFT_MSG_NEWSETELEM, flags, family, $"add element {FamilyName(family)} {table} {set}", table, set, setId, elements));
    }

    /// <summary>DELSETELEM of exactly these keys. An empty list adds nothing: an element-less DELSETELEM would flush the map.</summary>
    public void DeleteElements(byte family, string table, string set, IReadOnlyList<NftElement> elements)
    {
        ArgumentNullException.ThrowIfNull(elements);
        if (elements.Count == 0)
        {
            return;
        }

        _ops.Add(new ElementOperation(NfTables.NFT_MSG_DELSETELEM, 0, family, $"delete element {FamilyName(family)} {table} {set}", table, set, null, elements));
    }

    /// <summary>
    /// Writes BATCH_BEGIN (with NFNL_BATCH_GENID when given), every message with REQUEST|ACK, and BATCH_END.
    /// Returns the acked messages in order; the begin marker's seq is <paramref name="seq"/>.
    /// </summary>
    public List<NftMessage> Encode(NetlinkWriter w, uint seq, uint? generation = null)
    {
        ArgumentNullException.ThrowIfNull(w);
        var sent = new List<NftMessage>();
        int begin = w.BeginMessage(NfNetlink.NFNL_MSG_BATCH_BEGIN, LinuxNetlink.NLM_F_REQUEST, seq++);
        w.WriteNfGenMsg(NfNetlink.NFPROTO_UNSPEC, NfNetlink.NFNL_SUBSYS_NFTABLES);
        if (generation is uint g)
        {
            w.WriteUInt32BigEndian(NfNetlink.NFNL_BATCH_GENID, g);
        }

        w.EndMessage(begin);
        foreach (Operation op in _ops)
        {
            op.Encode(w, ref seq, sent);
        }

        int end = w.BeginMessage(NfNetlink.NFNL_MSG_BATCH_END, LinuxNetlink.NLM_F_REQUEST, seq);
        w.WriteNfGenMsg(NfNetlink.NFPROTO_UNSPEC, NfNetlink.NFNL_SUBSYS_NFTABLES);
        w.EndMessage(end);
        return sent;
    }

    internal static string FamilyName(byte family) => family switch
    {
        NfNetlink.NFPROTO_IPV4 => "ip",
        NfNetlink.NFPROTO_IPV6 => "ip6",
        NfNetlink.NFPROTO_INET => "inet",
        _ => $"family{family}",
    };

    /// <summary>nft's rule comment: a TLV list with type 0 = comment, NUL included, ≤ 256 bytes in all.</summary>
    private static byte[] CommentUserData(string comment)
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(comment);
        if (text.Length + 3 > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(comment), "a rule comment is at most 253 bytes");
        }

        var data = new byte[text.Length + 3];
        data[0] = 0;
        data[1] = (byte)(text.Length + 1);
        text.CopyTo(data, 2);
        return data;
    }

    private void Add(ushort msg, ushort flags, byte family, string description, Action<NetlinkWriter> body) =>
        _ops.Add(new Operation(msg, flags, family, description, body));

    private class Operation(ushort msg, ushort flags, byte family, string description, Action<NetlinkWriter>? body)
    {
        protected ushort Msg => msg;

        protected ushort Flags => flags;

        protected byte Family => family;

        protected string Description => description;

        public virtual void Encode(NetlinkWriter w, ref uint seq, List<NftMessage> sent)
        {
            int start = Begin(w, seq);
            body!(w);
            w.EndMessage(start);
            sent.Add(new NftMessage(seq++, description));
        }

        protected int Begin(NetlinkWriter w, uint seq)
        {
            int start = w.BeginMessage(
                (ushort)((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | msg),
                (ushort)(LinuxNetlink.NLM_F_REQUEST | LinuxNetlink.NLM_F_ACK | flags),
                seq);
            w.WriteNfGenMsg(family);
            return start;
        }
    }

    private sealed class ElementOperation(ushort msg, ushort flags, byte family, string description, string table, string set, uint? setId, IReadOnlyList<NftElement> elements)
        : Operation(msg, flags, family, description, null)
    {
        public override void Encode(NetlinkWriter w, ref uint seq, List<NftMessage> sent)
        {
            int i = 0;
            while (i < elements.Count)
            {
                int first = i;
                int start = Begin(w, seq);
                w.WriteString(NfTables.NFTA_SET_ELEM_LIST_TABLE, table);
                w.WriteString(NfTables.NFTA_SET_ELEM_LIST_SET, set);
                if (setId is uint id)
                {
                    w.WriteUInt32BigEndian(NfTables.NFTA_SET_ELEM_LIST_SET_ID, id);
                }

                int list = w.BeginNested(NfTables.NFTA_SET_ELEM_LIST_ELEMENTS);
                for (; i < elements.Count; i++)
                {
                    int before = w.Length;
                    WriteElement(w, elements[i]);
                    if (w.NestLength(list) > LinuxNetlink.NLA_MAX_LEN)
                    {
                        // This element would push nla_len past 65,535: it opens the next message of the same batch.
                        w.Truncate(before);
                        if (i == first)
                        {
                            throw new InvalidOperationException("one set element is larger than a netlink attribute can be");
                        }

                        break;
                    }
                }

                w.EndNested(list);
                w.EndMessage(start);
                sent.Add(new NftMessage(seq++, i - first == elements.Count ? Description : $"{Description} (elements {first + 1}-{i} of {elements.Count})"));
            }
        }

        private static void WriteElement(NetlinkWriter w, NftElement e)
        {
            int elem = w.BeginNested(NfTables.NFTA_LIST_ELEM);
            int key = w.BeginNested(NfTables.NFTA_SET_ELEM_KEY);
            w.WriteAttribute(NfTables.NFTA_DATA_VALUE, e.Key);
            w.EndNested(key);
            if (e.Data is not null)
            {
                int data = w.BeginNested(NfTables.NFTA_SET_ELEM_DATA);
                w.WriteAttribute(NfTables.NFTA_DATA_VALUE, e.Data);
                w.EndNested(data);
            }

            w.EndNested(elem);
        }
    }
}
