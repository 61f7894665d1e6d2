using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Nft;

/// <summary>Reads the NEW* messages of dumps (payload after the nfgenmsg). Unknown attributes are skipped.</summary>
internal static class NftDumpParser
{
    public static void ReadElements(byte[] msg, string map, bool v6, List<NatBindingCounter> into)
    {
        if (!NetlinkAttributeReader.TryFind(msg, NfTables.NFTA_SET_ELEM_LIST_ELEMENTS, out NetlinkAttribute elements))
        {
            return;
        }

        foreach (NetlinkAttribute elem in elements.Nested)
        {
            ReadOnlySpan<byte> key = default, data = default;
            ulong packets = 0, bytes = 0;
            foreach (NetlinkAttribute a in elem.Nested)
            {
                switch (a.Type)
                {
                    case NfTables.NFTA_SET_ELEM_KEY:
                        key = Value(a);
                        break;
                    case NfTables.NFTA_SET_ELEM_DATA:
                        data = Value(a);
                        break;
                    case NfTables.NFTA_SET_ELEM_EXPR:
                        (packets, bytes) = Counter(a);
                        break;
                    case NfTables.NFTA_SET_ELEM_EXPRESSIONS:
                        foreach (NetlinkAttribute e in a.Nested)
                        {
                            (ulong p, ulong b) = Counter(e);
                            packets += p;
                            bytes += b;
                        }

                        break;
                }
            }

            NatBinding? binding = NftRuleset.BindingOf(map, v6, key, data);
            if (binding is not null)
            {
                into.Add(new NatBindingCounter(binding, packets, bytes));
            }
        }
    }

    public static (string Name, string? Type, uint? Hook, int? Priority) ReadChain(byte[] msg)
    {
        string name = string.Empty;
        string? type = null;
        uint? hook = null;
        int? prio = null;
        foreach (NetlinkAttribute a in new NetlinkAttributeReader(msg))
        {
            switch (a.Type)
            {
                case NfTables.NFTA_CHAIN_NAME:
                    name = a.GetString();
                    break;
                case NfTables.NFTA_CHAIN_TYPE:
                    type = a.GetString();
                    break;
                case NfTables.NFTA_CHAIN_HOOK:
                    foreach (NetlinkAttribute h in a.Nested)
                    {
                        if (h.Type == NfTables.NFTA_HOOK_HOOKNUM)
                        {
                            hook = h.GetUInt32BigEndian();
                        }
                        else if (h.Type == NfTables.NFTA_HOOK_PRIORITY)
                        {
                            prio = unchecked((int)h.GetUInt32BigEndian());
                        }
                    }

                    break;
            }
        }

        return (name, type, hook, prio);
    }

    /// <summary>A rule's chain and comment (nft's USERDATA TLV type 0), which is how we recognise our rules.</summary>
    public static (string Chain, string Comment) ReadRuleIdentity(byte[] msg)
    {
        string chain = string.Empty, comment = string.Empty;
        foreach (NetlinkAttribute a in new NetlinkAttributeReader(msg))
        {
            if (a.Type == NfTables.NFTA_RULE_CHAIN)
            {
                chain = a.GetString();
            }
            else if (a.Type == NfTables.NFTA_RULE_USERDATA)
            {
                ReadOnlySpan<byte> u = a.Payload;
                while (u.Length >= 2)
                {
                    int len = u[1];
                    if (u.Length < 2 + len)
                    {
                        break;
                    }

                    if (u[0] == 0)
                    {
                        ReadOnlySpan<byte> text = u.Slice(2, len);
                        int nul = text.IndexOf((byte)0);
                        comment = System.Text.Encoding.UTF8.GetString(nul >= 0 ? text[..nul] : text);
                    }

                    u = u[(2 + len)..];
                }
            }
        }

        return (chain, comment);
    }

    private static ReadOnlySpan<byte> Value(NetlinkAttribute nest) =>
        NetlinkAttributeReader.TryFind(nest.Payload, NfTables.NFTA_DATA_VALUE, out NetlinkAttribute v) ? v.Payload : default;

    private static (ulong Packets, ulong Bytes) Counter(NetlinkAttribute expr)
    {
        if (!NetlinkAttributeReader.TryFind(expr.Payload, NfTables.NFTA_EXPR_NAME, out NetlinkAttribute name) || name.GetString() != "counter"
            || !NetlinkAttributeReader.TryFind(expr.Payload, NfTables.NFTA_EXPR_DATA, out NetlinkAttribute data))
        {
            return (0, 0);
        }

        ulong packets = 0, bytes = 0;
        foreach (NetlinkAttribute c in data.Nested)
        {
            if (c.Type == NfTables.NFTA_COUNTER_PACKETS)
            {
                packets = c.GetUInt64BigEndian();
            }
            else if (c.Type == NfTables.NFTA_COUNTER_BYTES)
            {
                bytes = c.GetUInt64BigEndian();
            }
        }

        return (packets, bytes);
    }
}
