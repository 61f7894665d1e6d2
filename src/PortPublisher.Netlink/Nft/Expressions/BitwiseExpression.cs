namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ bitwise reg DREG = ( reg SREG &amp; MASK ) ^ XOR ]</c>.</summary>
internal sealed class BitwiseExpression(uint sreg, uint dreg, byte[] mask, byte[] xor) : NftExpression
{
    public override string Name => "bitwise";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(1, sreg);                 // NFTA_BITWISE_SREG
        w.WriteUInt32BigEndian(2, dreg);                 // NFTA_BITWISE_DREG
        w.WriteUInt32BigEndian(3, (uint)mask.Length);    // NFTA_BITWISE_LEN
        WriteDataValue(w, 4, mask);                      // NFTA_BITWISE_MASK
        WriteDataValue(w, 5, xor);                       // NFTA_BITWISE_XOR
    }
}
