namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ ct set KEY with reg SREG ]</c>.</summary>
internal sealed class CtSetExpression(uint sreg, uint key) : NftExpression
{
    public override string Name => "ct";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(2, key);   // NFTA_CT_KEY
        w.WriteUInt32BigEndian(4, sreg);  // NFTA_CT_SREG
    }
}
