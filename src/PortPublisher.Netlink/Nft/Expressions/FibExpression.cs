namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ fib FLAGS RESULT => reg DREG ]</c>: route lookup results (address type, output interface) in host order.</summary>
internal sealed class FibExpression(uint dreg, uint result, uint flags) : NftExpression
{
    public override string Name => "fib";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(3, flags);   // NFTA_FIB_FLAGS
        w.WriteUInt32BigEndian(2, result);  // NFTA_FIB_RESULT
        w.WriteUInt32BigEndian(1, dreg);    // NFTA_FIB_DREG
    }
}
