namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary>
/// <c>[ cmp OP reg SREG DATA ]</c>. The data length is the length loaded into the register, and its byte order is
/// the register's: network order after payload, host order after meta/ct/fib.
/// </summary>
internal sealed class CmpExpression(uint sreg, uint op, byte[] data) : NftExpression
{
    public override string Name => "cmp";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(1, sreg);  // NFTA_CMP_SREG
        w.WriteUInt32BigEndian(2, op);    // NFTA_CMP_OP
        WriteDataValue(w, 3, data);       // NFTA_CMP_DATA
    }
}
