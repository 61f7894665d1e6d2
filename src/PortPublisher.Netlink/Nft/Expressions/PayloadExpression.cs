namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ payload load LENb @ BASE header + OFFSET => reg DREG ]</c>; packet bytes stay in network order.</summary>
internal sealed class PayloadExpression(uint dreg, uint payloadBase, uint offset, uint length) : NftExpression
{
    public override string Name => "payload";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(1, dreg);          // NFTA_PAYLOAD_DREG
        w.WriteUInt32BigEndian(2, payloadBase);   // NFTA_PAYLOAD_BASE
        w.WriteUInt32BigEndian(3, offset);        // NFTA_PAYLOAD_OFFSET
        w.WriteUInt32BigEndian(4, length);        // NFTA_PAYLOAD_LEN
    }
}
