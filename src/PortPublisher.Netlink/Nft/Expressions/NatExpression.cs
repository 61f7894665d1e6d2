namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary>
/// <c>[ nat TYPE FAMILY addr_min reg A proto_min reg P ]</c>. The kernel fills in the maxima and the
/// MAP_IPS / PROTO_SPECIFIED flags itself, so neither is sent.
/// </summary>
internal sealed class NatExpression(uint natType, uint family, uint regAddr, uint regProto) : NftExpression
{
    public override string Name => "nat";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(1, natType);   // NFTA_NAT_TYPE
        w.WriteUInt32BigEndian(2, family);    // NFTA_NAT_FAMILY
        w.WriteUInt32BigEndian(3, regAddr);   // NFTA_NAT_REG_ADDR_MIN
        w.WriteUInt32BigEndian(5, regProto);  // NFTA_NAT_REG_PROTO_MIN
    }
}
