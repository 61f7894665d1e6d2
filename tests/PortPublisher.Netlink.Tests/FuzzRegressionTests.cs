using System.Buffers.Binary;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;
using Xunit;

namespace PortPublisher.Netlink.Tests;

/// <summary>The crashes `bench fuzz` found, each as the smallest input that showed it.</summary>
public class FuzzRegressionTests
{
    [Theory]
    [InlineData(0xfffffff0u)] // negative as an int: sliced before the payload's start
    [InlineData(0x7fffffffu)] // Align overflowed int to a negative offset
    [InlineData(0xffffffffu)]
    [InlineData(1000u)]       // positive but past the payload: was already fine, stays fine
    public void ParseError_EchoedLengthPastThePayload_MeansNoTlvs(uint echoedLength)
    {
        // NLMSG_ERROR, not capped, with TLVs announced: -EEXIST, then the request's header whose nlmsg_len is hostile.
        var payload = new byte[4 + LinuxNetlink.NLMSG_HDRLEN];
        BinaryPrimitives.WriteInt32LittleEndian(payload, -17);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4), echoedLength);
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(4 + 8), 77);
        var m = new NetlinkMessage(LinuxNetlink.NLMSG_ERROR, LinuxNetlink.NLM_F_ACK_TLVS, 77, 0, payload);

        (int errno, uint seq, int offset) = NftConnection.ParseError(m);

        Assert.Equal((17, 77u, -1), (errno, seq, offset));
    }

    [Fact]
    public void ConsistentPayloads_AReplyShorterThanItsNfgenmsg_IsAProtocolError()
    {
        List<NetlinkReply> replies = [new(0x0a0c, LinuxNetlink.NLM_F_MULTI, [2, 0, 0, 7, 1, 0, 0, 0]), new(0x0a0c, LinuxNetlink.NLM_F_MULTI, [2, 0])];

        NetlinkProtocolException e = Assert.Throws<NetlinkProtocolException>(() => NftConnection.ConsistentPayloads(replies, 7, "list map"));

        Assert.Equal("list map: a 2-byte reply is shorter than its nfgenmsg", e.Message);
        Assert.Single(NftConnection.ConsistentPayloads(replies[..1], 7, "list map")!); // the well-formed one alone still reads
    }

    [Fact]
    public void EventDecoder_ANewGenWithAShortGenerationAttribute_StillReportsTheEvent()
    {
        // NEWGEN whose NFTA_GEN_ID has 2 bytes: the decoder runs on the monitor's thread, where a throw ends the process.
        var w = new NetlinkWriter();
        int m = w.BeginMessage((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | NfTables.NFT_MSG_NEWGEN, 0, 0, 4242);
        w.WriteNfGenMsg(NfNetlink.NFPROTO_UNSPEC, 9);
        w.WriteAttribute(NfTables.NFTA_GEN_ID, [0, 1]);
        w.EndMessage(m);
        var events = new List<NftEvent>();

        NftEventMonitor.Decode(w.WrittenSpan, events.Add);

        NftEvent e = Assert.Single(events);
        Assert.Equal(("NEWGEN", 4242u, 9u), (e.Kind, e.PortId, e.Generation)); // the nfgenmsg's generation stands in
    }
}
