using System.Net;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;
using Xunit;

namespace PortPublisher.Netlink.Tests;

public class NftGoldenTests
{
    private static readonly NftablesOptions s_plain = new() { LoopbackGuard = false, Comments = false };

    /// <summary>The batch nft-netlink-verify.py prints: the IPv4 table, its maps, chains and rules, and three elements.</summary>
    private static NftBatch VectorBatch()
    {
        var batch = new NftBatch();
        NftRuleset.AddDefinition(batch, NfNetlink.NFPROTO_IPV4, s_plain);
        var gw = IPAddress.Parse("192.0.2.1");
        var ctr = IPAddress.Parse("10.99.0.2");
        batch.AddElements(NfNetlink.NFPROTO_IPV4, "portpublisher", "published",
            [NftRuleset.ElementOf(new NatBinding(gw, Protocol.Tcp, 8080, ctr, 80)).Element, NftRuleset.ElementOf(new NatBinding(gw, Protocol.Udp, 53, ctr, 53)).Element],
            setId: NftRuleset.PublishedSetId);
        batch.AddElements(NfNetlink.NFPROTO_IPV4, "portpublisher", "published_any",
            [NftRuleset.ElementOf(new NatBinding(null, Protocol.Tcp, 9090, ctr, 80)).Element],
            setId: NftRuleset.PublishedAnySetId);
        return batch;
    }

    public static TheoryData<int> MessageIndexes() => [.. Enumerable.Range(0, 18)];

    [Theory]
    [MemberData(nameof(MessageIndexes))]
    public void Batch_MatchesKnownGoodBytesMessageByMessage(int index)
    {
        List<(string Name, byte[] Bytes)> vectors = GoldenVectors.Read();
        byte[] ours = NftConnection.EncodeOnly(VectorBatch(), seq: 1);
        var messages = new List<byte[]>();
        var reader = new NetlinkMessageReader(ours);
        int offset = 0;
        while (reader.MoveNext())
        {
            int len = BitConverter.ToInt32(ours, offset);
            messages.Add(ours[offset..(offset + len)]);
            offset += LinuxNetlink.Align(len);
        }

        Assert.Equal(18, messages.Count);
        NetlinkAssert.Equal(vectors[index].Bytes, messages[index], $"message {index} ({vectors[index].Name})");
    }

    [Fact]
    public void Batch_IsTheWholeVectorStream()
    {
        List<(string Name, byte[] Bytes)> vectors = GoldenVectors.Read();
        byte[] expected = [.. vectors.Take(18).SelectMany(v => v.Bytes)];
        NetlinkAssert.Equal(expected, NftConnection.EncodeOnly(VectorBatch(), seq: 1), "batch");
    }

    [Fact]
    public void ElementLayout_PadsEveryFieldWithZeros()
    {
        (string map, NftElement e) = NftRuleset.ElementOf(new NatBinding(IPAddress.Parse("2001:db8::1"), Protocol.Tcp, 8080, IPAddress.Parse("fd00:99::2"), 80));
        Assert.Equal("published", map);
        Assert.Equal("20010db8000000000000000000000001060000001f900000", Convert.ToHexStringLower(e.Key));
        Assert.Equal("fd000099000000000000000000000002" + "00500000", Convert.ToHexStringLower(e.Data!));
        (map, e) = NftRuleset.ElementOf(new NatBinding(null, Protocol.Udp, 9090, IPAddress.Parse("10.99.0.2"), 80));
        Assert.Equal("published_any", map);
        Assert.Equal("1100000023820000", Convert.ToHexStringLower(e.Key));
    }

    [Fact]
    public void ElementOf_RefusesAFamilyNatCannotJoin() =>
        Assert.Throws<ArgumentException>(() => NftRuleset.ElementOf(new NatBinding(IPAddress.IPv6Loopback, Protocol.Tcp, 1, IPAddress.Loopback, 1)));

    [Fact]
    public void BindingOf_RoundTripsElementOf()
    {
        NatBinding[] bindings =
        [
            new(IPAddress.Parse("192.0.2.1"), Protocol.Sctp, 1, IPAddress.Parse("10.0.0.2"), 65535),
            new(null, Protocol.Udp, 53, IPAddress.Parse("10.0.0.2"), 5353),
            new(IPAddress.Parse("2001:db8::1"), Protocol.Tcp, 443, IPAddress.Parse("fd00::2"), 8443),
            new(null, Protocol.Tcp, 80, IPAddress.Parse("fd00::2"), 80),
        ];
        foreach (NatBinding b in bindings)
        {
            (string map, NftElement e) = NftRuleset.ElementOf(b);
            Assert.Equal(b, NftRuleset.BindingOf(map, b.IsIPv6, e.Key, e.Data));
        }
    }

    [Fact]
    public void GetGen_MatchesVector()
    {
        (string _, byte[] bytes) = GoldenVectors.Read()[^1];
        var w = new NetlinkWriter();
        int s = w.BeginMessage(0x0a10, LinuxNetlink.NLM_F_REQUEST, 1);
        w.WriteNfGenMsg(0);
        w.EndMessage(s);
        NetlinkAssert.Equal(bytes, w.WrittenSpan, "GETGEN");
    }
}
