namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ ct load KEY => reg DREG ]</c>: conntrack state, status or mark, in host order.</summary>
internal sealed class CtLoadExpression(uint dreg, uint key) : NftExpression
{
    public override string Name => "ct";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(2, key);   // NFTA_CT_KEY
        w.WriteUInt32BigEndian(1, dreg);  // NFTA_CT_DREG
    }
}
