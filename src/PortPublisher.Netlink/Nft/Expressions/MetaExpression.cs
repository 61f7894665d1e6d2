namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ meta load KEY => reg DREG ]</c>.</summary>
internal sealed class MetaExpression(uint dreg, uint key) : NftExpression
{
    public override string Name => "meta";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(2, key);   // NFTA_META_KEY
        w.WriteUInt32BigEndian(1, dreg);  // NFTA_META_DREG
    }
}
