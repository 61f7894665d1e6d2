namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary>
/// <c>[ lookup reg SREG set NAME dreg DREG ]</c>: the key starts at SREG; for a map the value is written from DREG.
/// A miss ends the rule (NFT_BREAK), which is why the specific map's rule precedes the wildcard one.
/// </summary>
internal sealed class LookupExpression(string set, uint sreg, uint? dreg, uint? setId) : NftExpression
{
    public override string Name => "lookup";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteString(1, set);                 // NFTA_LOOKUP_SET
        w.WriteUInt32BigEndian(2, sreg);       // NFTA_LOOKUP_SREG
        if (dreg is uint d)
        {
            w.WriteUInt32BigEndian(3, d);      // NFTA_LOOKUP_DREG
        }

        if (setId is uint id)
        {
            w.WriteUInt32BigEndian(4, id);     // NFTA_LOOKUP_SET_ID
        }
    }
}
