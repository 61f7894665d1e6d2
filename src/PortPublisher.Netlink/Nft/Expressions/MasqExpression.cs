namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ masq ]</c> with an empty DATA nest; valid only in a postrouting nat chain.</summary>
internal sealed class MasqExpression : NftExpression
{
    public override string Name => "masq";

    protected override void EncodeData(NetlinkWriter w)
    {
    }
}
