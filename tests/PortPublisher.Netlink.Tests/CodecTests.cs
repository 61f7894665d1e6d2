using CsCheck;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;
using Xunit;

namespace PortPublisher.Netlink.Tests;

public class CodecTests
{
    [Fact]
    public void Writer_PadsWithZerosAndCountsTheNulOfStrings()
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage(0x0a00, LinuxNetlink.NLM_F_REQUEST, 7);
        w.WriteNfGenMsg(2);
        w.WriteString(1, "ab");
        w.WriteAttribute(9, [0xff]);
        w.EndMessage(m);

        // nla_len is unpadded (7 = 4 + "ab\0", 5 = 4 + 1); like libmnl, nlmsg_len covers the last attribute's padding.
        NetlinkAssert.Equal(
            Convert.FromHexString("24000000000a0100070000000000000002000000" + "0700010061620000" + "05000900ff000000"),
            w.WrittenSpan,
            "message");
    }

    [Fact]
    public void Writer_RefusesAnAttributeOrNestPastTheU16Limit()
    {
        var w = new NetlinkWriter();
        Assert.Throws<InvalidOperationException>(() => w.WriteAttribute(1, new byte[65532]));
        w.WriteAttribute(1, new byte[65531]);
        int n = w.BeginNested(2);
        w.WriteAttribute(1, new byte[65520]);
        w.WriteAttribute(1, new byte[20]);
        Assert.Throws<InvalidOperationException>(() => w.EndNested(n));
    }

    [Fact]
    public void ReadersRoundTripWhatTheWriterWrites()
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage(0x0a0c, 5, 42, 3);
        w.WriteNfGenMsg(10, 7);
        w.WriteString(1, "portpublisher");
        int nest = w.BeginNested(3);
        w.WriteUInt32BigEndian(4, 0xdeadbeef);
        w.WriteUInt64BigEndian(5, 0x0102030405060708);
        w.EndNested(nest);
        w.EndMessage(m);
        int m2 = w.BeginMessage(3, 2, 43);
        w.EndMessage(m2);

        var r = new NetlinkMessageReader(w.WrittenSpan);
        Assert.True(r.MoveNext());
        Assert.Equal((0x0a0c, 5, 42u, 3u), (r.Current.Type, r.Current.Flags, r.Current.Seq, r.Current.Pid));
        var attrs = new NetlinkAttributeReader(r.Current.Payload[4..]);
        Assert.True(attrs.MoveNext());
        Assert.Equal("portpublisher", attrs.Current.GetString());
        Assert.True(attrs.MoveNext());
        Assert.True(attrs.Current.IsNested);
        Assert.Equal(3, attrs.Current.Type);
        var inner = attrs.Current.Nested;
        Assert.True(inner.MoveNext());
        Assert.Equal(0xdeadbeefu, inner.Current.GetUInt32BigEndian());
        Assert.True(inner.MoveNext());
        Assert.Equal(0x0102030405060708ul, inner.Current.GetUInt64BigEndian());
        Assert.False(inner.MoveNext());
        Assert.False(attrs.MoveNext());
        Assert.True(r.MoveNext());
        Assert.Equal(3, r.Current.Type);
        Assert.False(r.MoveNext());
        Assert.False(r.Error);
    }

    [Fact]
    public void ElementLists_SplitBelowTheAttributeLimitAndKeepEveryElement()
    {
        var batch = new NftBatch();
        var elements = Enumerable.Range(0, 5000).Select(i => new NftElement(BitConverter.GetBytes(i).Concat(new byte[8]).ToArray(), new byte[8])).ToList();
        batch.AddElements(NfNetlink.NFPROTO_IPV4, "t", "m", elements);
        byte[] bytes = NftConnection.EncodeOnly(batch, 1);
        int messages = 0, total = 0;
        var r = new NetlinkMessageReader(bytes);
        while (r.MoveNext())
        {
            if (r.Current.Type != 0x0a0c)
            {
                continue;
            }

            messages++;
            Assert.True(NetlinkAttributeReader.TryFind(r.Current.Payload[4..], NfTables.NFTA_SET_ELEM_LIST_ELEMENTS, out NetlinkAttribute list));
            Assert.True(list.Payload.Length + 4 <= 65535);
            foreach (NetlinkAttribute _ in list.Nested)
            {
                total++;
            }
        }

        Assert.Equal(5000, total);
        Assert.True(messages >= 3);
    }

    [Fact]
    public void DeleteElements_WithNoElementsSendsNothing()
    {
        // A DELSETELEM without NFTA_SET_ELEM_LIST_ELEMENTS flushes the whole map: it must be impossible to send.
        var batch = new NftBatch();
        batch.DeleteElements(NfNetlink.NFPROTO_IPV4, "t", "m", []);
        Assert.Equal(0, batch.Count);
        Assert.Throws<ArgumentOutOfRangeException>(() => batch.DeleteTable(NfNetlink.NFPROTO_UNSPEC, "t"));
        Assert.Throws<ArgumentException>(() => batch.DeleteTable(NfNetlink.NFPROTO_IPV4, ""));
    }

    [Fact]
    public void Decoders_NeverCrashOnArbitraryInput() =>
        Gen.Byte.Array[0, 600].Sample(bytes =>
        {
            var r = new NetlinkMessageReader(bytes);
            while (r.MoveNext())
            {
                foreach (NetlinkAttribute a in new NetlinkAttributeReader(r.Current.Payload))
                {
                    foreach (NetlinkAttribute _ in a.Nested)
                    {
                    }
                }

                try
                {
                    NftConnection.ParseError(r.Current);
                }
                catch (NetlinkProtocolException)
                {
                }
            }

            var into = new List<NatBindingCounter>();
            NftDumpParser.ReadElements(bytes, "published", false, into);
            NftDumpParser.ReadElements(bytes, "published_any", true, into);
            NftDumpParser.ReadChain(bytes);
            NftDumpParser.ReadRuleIdentity(bytes);
        }, iter: 50_000);
}
