using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Nft.Expressions;

/// <summary><c>[ immediate reg 0 VERDICT ]</c>: accept, drop, and the other terminal verdicts.</summary>
internal sealed class VerdictExpression(uint code) : NftExpression
{
    public override string Name => "immediate";

    protected override void EncodeData(NetlinkWriter w)
    {
        w.WriteUInt32BigEndian(1, NfTables.NFT_REG_VERDICT);  // NFTA_IMMEDIATE_DREG
        int data = w.BeginNested(2);                          // NFTA_IMMEDIATE_DATA
        int verdict = w.BeginNested(NfTables.NFTA_DATA_VERDICT);
        w.WriteUInt32BigEndian(NfTables.NFTA_VERDICT_CODE, code);
        w.EndNested(verdict);
        w.EndNested(data);
    }
}
