using System.Net;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft.Expressions;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// The sandboxes' outbound NAT, in a small table of its own so that it never touches the publication tables' owned
/// socket:
/// <code>
/// table ip portpublisher-sandbox {              # owned by this socket and persistent where the kernel can (6.9+)
///   chain postrouting { type nat hook postrouting priority srcnat; policy accept;
///     ip saddr 172.17.0.0/16 oifname != "pp0" masquerade    # Docker's MASQUERADE rule for docker0
///   }
/// }
/// </code>
/// The table is replaced whole in one transaction, so it is always either the old or the new rule.
/// </summary>
public sealed class SandboxMasquerade : IDisposable
{
    public const string DefaultTable = "portpublisher-sandbox";

    private const int EOPNOTSUPP = 95;
    private const int ENOENT = 2;
    private const int SrcNatPriority = 100; // NF_IP_PRI_NAT_SRC: nft's "srcnat"

    // linux/netfilter/nf_tables.h enum nft_meta_keys.
    private const uint NFT_META_OIFNAME = 7;

    private readonly NftConnection _conn;
    private readonly string _table;
    private uint _flags = NfTables.NFT_TABLE_F_OWNER | NfTables.NFT_TABLE_F_PERSIST;

    public SandboxMasquerade(NetworkNamespace? ns = null, string table = DefaultTable)
    {
        _conn = new NftConnection(ns);
        _table = table;
    }

    /// <summary>True when our socket owns the table (nobody else may flush or delete it while we run).</summary>
    public bool Owned => _flags != 0;

    /// <summary>Creates or replaces the table with one masquerade rule for <paramref name="subnet"/> leaving by any link but <paramref name="bridge"/>.</summary>
    public void Install(IPNetwork subnet, string bridge)
    {
        ArgumentException.ThrowIfNullOrEmpty(bridge);
        try
        {
            _conn.Commit(Definition(subnet, bridge, _flags));
        }
        catch (NetlinkException e) when (e.Errno == EOPNOTSUPP && _flags != 0)
        {
            // A kernel without owned/persistent tables: a plain one.
            _flags = 0;
            _conn.Commit(Definition(subnet, bridge, 0));
        }
    }

    /// <summary>Deletes the table; a table that is already gone is fine.</summary>
    public void Remove()
    {
        var batch = new NftBatch();
        batch.DeleteTable(NfNetlink.NFPROTO_IPV4, _table);
        try
        {
            _conn.Commit(batch);
        }
        catch (NetlinkException e) when (e.Errno == ENOENT)
        {
        }
    }

    public void Dispose() => _conn.Dispose();

    private NftBatch Definition(IPNetwork subnet, string bridge, uint flags)
    {
        byte family = NfNetlink.NFPROTO_IPV4;
        var batch = new NftBatch();

        // Create-if-missing without touching flags, delete, create anew: one transaction whether it existed or not.
        batch.AddTable(family, _table, flags: null);
        batch.DeleteTable(family, _table);
        batch.AddTable(family, _table, flags);
        batch.AddChain(family, _table, "postrouting", "nat", NfTables.NF_INET_POST_ROUTING, SrcNatPriority);

        byte[] mask = new byte[4];
        uint m = subnet.PrefixLength == 0 ? 0 : uint.MaxValue << (32 - subnet.PrefixLength);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(mask, m);
        byte[] name = new byte[16];
        System.Text.Encoding.ASCII.GetBytes(bridge, name);
        batch.AddRule(family, _table, "postrouting",
        [
            new PayloadExpression(NfTables.NFT_REG_1, NfTables.NFT_PAYLOAD_NETWORK_HEADER, 12, 4),
            new BitwiseExpression(NfTables.NFT_REG_1, NfTables.NFT_REG_1, mask, new byte[4]),
            new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_EQ, subnet.BaseAddress.GetAddressBytes()),
            new MetaExpression(NfTables.NFT_REG_1, NFT_META_OIFNAME),
            new CmpExpression(NfTables.NFT_REG_1, NfTables.NFT_CMP_NEQ, name),
            new MasqExpression(),
        ]);
        return batch;
    }
}
