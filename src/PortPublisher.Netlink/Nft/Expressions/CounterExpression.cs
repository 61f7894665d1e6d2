namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ counter pkts 0 bytes 0 ]</c>.</summary>
internal sealed class CounterExpression : NftExpression
{
    public override string Name => "counter";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt64BigEndian(1, 0);  // NFTA_COUNTER_BYTES
        w.WriteUInt64BigEndian(2, 0);  // NFTA_COUNTER_PACKETS
    }
}
