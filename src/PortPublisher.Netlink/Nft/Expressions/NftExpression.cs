using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary>
/// One nf_tables VM instruction: <c>NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { … } }</c>.
/// Attribute order inside DATA follows nft's, so messages compare byte for byte with its captures.
/// </summary>
internal abstract class NftExpression
{
    public abstract string Name { get; }

    public void Encode(NetlinkWriter w)
    {
        int elem = w.BeginNested(NfTables.NFTA_LIST_ELEM);
        w.WriteString(NfTables.NFTA_EXPR_NAME, Name);
        int data = w.BeginNested(NfTables.NFTA_EXPR_DATA);
        EncodeData(w);
        w.EndNested(data);
        w.EndNested(elem);
    }

    protected abstract void EncodeData(NetlinkWriter w);

    /// <summary><c>NFTA_x { NFTA_DATA_VALUE bytes }</c>.</summary>
    protected static void WriteDataValue(NetlinkWriter w, ushort type, ReadOnlySpan<byte> value)
    {
        int n = w.BeginNested(type);
        w.WriteAttribute(NfTables.NFTA_DATA_VALUE, value);
        w.EndNested(n);
    }
}
