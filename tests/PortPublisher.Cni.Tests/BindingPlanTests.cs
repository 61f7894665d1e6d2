using System.Net;
using PortPublisher.Cni.Publishing;
using PortPublisher.Cni.Spec;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>How port mappings and the previous result become NAT bindings, as portmap reads them.</summary>
public sealed class BindingPlanTests
{
    private static readonly IPAddress V4 = IPAddress.Parse("10.88.0.2"), V6 = IPAddress.Parse("fd00::2");

    private static PrevResult Prev(params (string Address, int? Interface)[] ips) => new(
        [("cni-pp0", string.Empty), ("veth1", string.Empty), ("eth0", "/run/netns/x"), ("eth1", "/run/netns/x")],
        [.. ips.Select(i => (IPAddress.Parse(i.Address), i.Interface))]);

    [Fact]
    public void AnAddresslessMapping_CoversEveryFamilyTheContainerHas()
    {
        BindingPlan plan = BindingPlan.Make([new(8080, 80, "tcp", "")], Prev(("10.88.0.2", 2), ("fd00::2", 2)), "eth0");
        Assert.Equal([new NatBinding(null, Protocol.Tcp, 8080, V4, 80), new NatBinding(null, Protocol.Tcp, 8080, V6, 80)], plan.Bindings);
        Assert.Empty(plan.Skipped);
    }

    [Fact]
    public void AnAddressOfAFamilyTheContainerLacks_IsSkippedAndSaidSo()
    {
        BindingPlan plan = BindingPlan.Make([new(8080, 80, "udp", "::"), new(8081, 80, "tcp", "0.0.0.0"), new(8082, 80, "tcp", "")], Prev(("10.88.0.2", 2)), "eth0");
        Assert.Equal([new NatBinding(null, Protocol.Tcp, 8081, V4, 80), new NatBinding(null, Protocol.Tcp, 8082, V4, 80)], plan.Bindings);
        Assert.Equal("runtimeConfig.portMappings[0] (:::8080->80/udp): the container has no IPv6 address on its interface", Assert.Single(plan.Skipped));
    }

    [Fact]
    public void OnlyAddressesOfItsOwnSandboxInterfaceCount()
    {
        // 10.1.0.9 is eth1's, 10.2.0.9 has no interface index; 10.88.0.2 (interface out of range) is not held against.
        BindingPlan plan = BindingPlan.Make([new(8080, 80, "tcp", "")], Prev(("10.1.0.9", 3), ("10.2.0.9", null), ("10.88.0.2", 7), ("10.3.0.9", 2)), "eth0");
        Assert.Equal(V4, plan.ContainerV4);
        Assert.Null(plan.ContainerV6);
    }

    [Fact]
    public void ASpecificHostAddress_IsKept_AndLoopbackNeedsLocalnetOnlyWithSnat()
    {
        BindingPlan plan = BindingPlan.Make([new(8081, 80, "TCP", "127.0.0.1")], Prev(("10.88.0.2", 2)), "eth0");
        NatBinding b = Assert.Single(plan.Bindings);
        Assert.Equal(IPAddress.Loopback, b.HostIp);
        Assert.True(BindingPlan.NeedsLocalnet(plan.Bindings, snat: true));
        Assert.False(BindingPlan.NeedsLocalnet(plan.Bindings, snat: false));
        Assert.Equal("127.0.0.1:8081:80/tcp", BindingPlan.Spec(b));
    }

    [Fact]
    public void IdenticalMappings_AreMadeOnce()
    {
        BindingPlan plan = BindingPlan.Make([new(8080, 80, "tcp", ""), new(8080, 80, "tcp", "")], Prev(("10.88.0.2", 2)), "eth0");
        Assert.Single(plan.Bindings);
    }

    [Fact]
    public void Specs_AreTheServicesGrammar()
    {
        Assert.Equal("0.0.0.0:8080:80/tcp", BindingPlan.Spec(new NatBinding(null, Protocol.Tcp, 8080, V4, 80)));
        Assert.Equal("[::]:53:5353/udp", BindingPlan.Spec(new NatBinding(null, Protocol.Udp, 53, V6, 5353)));
        Assert.Equal("[fd00::1]:80:80/sctp", BindingPlan.Spec(new NatBinding(IPAddress.Parse("fd00::1"), Protocol.Sctp, 80, V6, 80)));
    }

    [Fact]
    public void PublicationNames_AreReadableWhenTheyCanBe_ElseAStableHash()
    {
        Assert.Equal("cni-abc123-eth0", new Attachment("abc123", "eth0").PublicationName);
        string hashed = new Attachment("abc123", "eth@0").PublicationName;
        Assert.Matches("^cni-[0-9a-f]{32}$", hashed);
        Assert.Equal(hashed, new Attachment("abc123", "eth@0").PublicationName);
        Assert.NotEqual(hashed, new Attachment("abc124", "eth@0").PublicationName);
    }

    [Fact]
    public void Conflicts_FollowTheServicesAllocator()
    {
        var wildcard = new NatBinding(null, Protocol.Tcp, 8080, V4, 80);
        Assert.True(PortConflicts.Overlap(wildcard, wildcard with { HostIp = IPAddress.Loopback }));
        Assert.False(PortConflicts.Overlap(wildcard, wildcard with { Protocol = Protocol.Udp }));
        Assert.False(PortConflicts.Overlap(wildcard, new NatBinding(null, Protocol.Tcp, 8080, V6, 80)));
        Assert.False(PortConflicts.Overlap(wildcard with { HostIp = IPAddress.Loopback }, wildcard with { HostIp = IPAddress.Parse("10.0.0.1") }));
        CniException e = Assert.Throws<CniException>(() => PortConflicts.ThrowIfTaken([wildcard], [wildcard with { HostIp = IPAddress.Loopback }], "x"));
        Assert.Equal(100, e.Code);
        Assert.Equal("Bind for 0.0.0.0:8080 failed: port is already allocated", e.Message);
    }
}
