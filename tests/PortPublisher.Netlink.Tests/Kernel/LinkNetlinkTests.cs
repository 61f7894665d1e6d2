using System.Net;
using System.Text.Json;
using PortPublisher.Netlink.Route;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>The rtnetlink writes a bridge sandbox needs, each checked with <c>ip -j</c> as the oracle, in throwaway namespaces.</summary>
[Trait("Category", "Netns")]
public sealed class LinkNetlinkTests
{
    private static readonly byte[] s_bridgeMac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    private static readonly byte[] s_peerMac = [0x06, 0xaa, 0xbb, 0xcc, 0xdd, 0xee];

    [Fact]
    public void BridgeVethRenameMasterAddressAndRoute_AreWhatIpShows()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        string sandbox = t.AddNamespace("s");
        using NetworkNamespace sandboxNs = NetworkNamespace.Open(sandbox);
        using var host = new LinkNetlink(t.HostNs);
        using var inside = new LinkNetlink(sandboxNs);

        host.AddBridge("ppt0", s_bridgeMac);
        LinkInfo bridge = host.GetLink("ppt0")!;
        Assert.Equal("02:11:22:33:44:55", bridge.Mac);
        Assert.Contains("\"info_kind\":\"bridge\"", t.Exec(t.Host, "ip -d -j link show ppt0"), StringComparison.Ordinal);
        host.AddIPv4Address(bridge.Index, IPAddress.Parse("172.30.0.1"), 16);
        host.SetUp(bridge.Index);

        host.AddVethPair("veth1234abc", "veth9876def", sandboxNs, s_peerMac);
        Assert.Null(host.GetLink("veth9876def")); // created inside the sandbox, never here
        LinkInfo outer = host.GetLink("veth1234abc")!;
        host.SetMaster(outer.Index, bridge.Index);
        host.SetUp(outer.Index);

        LinkInfo peer = inside.GetLink("veth9876def")!;
        Assert.Equal("06:aa:bb:cc:dd:ee", peer.Mac);
        inside.Rename(peer.Index, "eth0");
        inside.AddIPv4Address(peer.Index, IPAddress.Parse("172.30.0.2"), 16);
        inside.SetUp(peer.Index);
        inside.SetUp(1);
        inside.AddIPv4DefaultRoute(IPAddress.Parse("172.30.0.1"), peer.Index);

        // The oracle: iproute2's JSON.
        using JsonDocument link = JsonDocument.Parse(t.Exec(t.Host, "ip -j link show veth1234abc"));
        Assert.Equal("ppt0", link.RootElement[0].GetProperty("master").GetString());
        using JsonDocument addr = JsonDocument.Parse(t.Exec(sandbox, "ip -j addr show eth0"));
        JsonElement a = addr.RootElement[0].GetProperty("addr_info").EnumerateArray().First(x => x.GetProperty("family").GetString() == "inet");
        Assert.Equal(("172.30.0.2", 16, "172.30.255.255"), (a.GetProperty("local").GetString(), a.GetProperty("prefixlen").GetInt32(), a.GetProperty("broadcast").GetString()));
        Assert.Equal("06:aa:bb:cc:dd:ee", addr.RootElement[0].GetProperty("address").GetString());
        Assert.Equal("default via 172.30.0.1 dev eth0 \n", t.Exec(sandbox, "ip route show default"));
        Assert.Contains(inside.GetLinks(), l => l is { Name: "lo", Up: true });
        Assert.Contains(inside.GetLinks(), l => l is { Name: "eth0", Up: true });

        // Traffic crosses it: the sandbox pings the bridge's address.
        Assert.Contains("1 received", t.Exec(sandbox, "ping -c 1 -W 5 172.30.0.1"), StringComparison.Ordinal);
        Assert.Contains(host.GetIPv4Routes(), r => r.Destination.Equals(IPAddress.Parse("172.30.0.0")) && r.PrefixLength == 16);

        // Deleting the outer end takes the peer too.
        host.DeleteLink(outer.Index);
        Assert.Null(inside.GetLink("eth0"));
        Assert.Null(host.GetLink("veth1234abc"));
        host.DeleteLink(bridge.Index);
        Assert.Null(host.GetLink("ppt0"));
    }

    [Fact]
    public void Refusals_CarryTheKernelsErrno()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var host = new LinkNetlink(t.HostNs);
        host.AddBridge("ppt1", []);
        NetlinkException exists = Assert.Throws<NetlinkException>(() => host.AddBridge("ppt1", []));
        Assert.Equal(17, exists.Errno); // EEXIST
        int index = host.GetLink("ppt1")!.Index;
        host.AddBridge("ppt2", []);
        NetlinkException taken = Assert.Throws<NetlinkException>(() => host.Rename(index, "ppt2"));
        Assert.Equal(17, taken.Errno); // EEXIST: the name is taken
        Assert.NotNull(host.GetLink("ppt1"));
        Assert.Throws<ArgumentException>(() => host.AddBridge("a-name-far-too-long", []));
        Assert.Null(host.GetLink("ppt-missing"));
    }
}
