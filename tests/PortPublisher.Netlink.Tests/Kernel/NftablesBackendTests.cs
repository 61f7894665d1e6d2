using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using Xunit;
using PortPublisher.TestKit;
using static PortPublisher.TestKit.Shell;
using static PortPublisher.TestKit.ThreeNamespaces;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>The backend against the real kernel, in throwaway namespaces; `nft` is only the oracle.</summary>
[Trait("Category", "Netns")]
public class NftablesBackendTests
{
    private static readonly IPAddress s_ctr4 = IPAddress.Parse(ContainerV4);
    private static readonly IPAddress s_ctr6 = IPAddress.Parse(ContainerV6);

    private static NatBinding[] OracleBindings() =>
    [
        new(IPAddress.Parse(HostV4), Protocol.Tcp, 8080, s_ctr4, 80),
        new(IPAddress.Loopback, Protocol.Udp, 5353, s_ctr4, 53),
        new(null, Protocol.Tcp, 9090, s_ctr4, 80),
        new(IPAddress.Parse(HostV6), Protocol.Tcp, 8080, s_ctr6, 80),
        new(null, Protocol.Tcp, 9090, s_ctr6, 80),
    ];

    [Fact]
    public void InstallOrReplace_ListsExactlyAsNftLoadsTheSameRuleset()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace(OracleBindings());

        // The oracle: the same ruleset written in nft syntax, loaded by nft itself into another namespace.
        string oracle = t.AddNamespace("o");
        Sh($"ip netns exec {oracle} nft -f {Path.Combine(AppContext.BaseDirectory, "TestData", "expected-ruleset.nft")}");
        Assert.Equal(NftJson.Normalize(t.NftJson(oracle)), NftJson.Normalize(t.NftJson()));

        Assert.Equal(RulesetState.InSync, backend.Check(OracleBindings()).State);
    }

    [Fact]
    public async Task LoopbackByProxy_LeavesLocal127ClientsOfWildcardBindingsToTheListenerAndListsAsNftLoadsIt()
    {
        using ThreeNamespaces t = Namespaces.All();
        var options = new NftablesOptions { LoopbackByProxy = true };
        using var backend = new NftablesBackend(t.HostNs, options);
        backend.InstallOrReplace(OracleBindings());

        const string Plain = "fib daddr type local dnat ip to meta l4proto . th dport map @published_any comment \"portpublisher: dnat wildcard\"";
        string nft = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "expected-ruleset.nft"));
        int output = nft.IndexOf("chain output", StringComparison.Ordinal);
        int line = nft.IndexOf(Plain, output, StringComparison.Ordinal);
        nft = string.Concat(nft.AsSpan(0, line), "fib daddr type local ip daddr != 127.0.0.0/8 dnat ip to meta l4proto . th dport map @published_any comment \"portpublisher: dnat wildcard but 127/8\"", nft.AsSpan(line + Plain.Length));
        string file = Path.Combine(Path.GetTempPath(), $"{t.Id}-loopback.nft");
        File.WriteAllText(file, nft);
        try
        {
            string oracle = t.AddNamespace("o");
            Sh($"ip netns exec {oracle} nft -f {file}");
            Assert.Equal(NftJson.Normalize(t.NftJson(oracle)), NftJson.Normalize(t.NftJson()));
        }
        finally
        {
            File.Delete(file);
        }

        // The host's own address is still DNAT'ed; 127.0.0.1 reaches whatever listens on the host (the proxy, in the service).
        using Peer tcp4 = Peer.TcpServer(t.ContainerNs, ContainerV4, 80);
        using Peer local = Peer.TcpServer(t.HostNs, "127.0.0.1", 9090);
        Assert.Equal($"peer={HostV4}", await Peer.AskTcp(t.HostNs, HostV4, 9090));
        Assert.Equal("peer=127.0.0.1", await Peer.AskTcp(t.HostNs, "127.0.0.1", 9090));

        // Tables built without the option differ, so a service that turns it on replaces them.
        using var plain = new NftablesBackend(t.HostNs);
        plain.InstallOrReplace(OracleBindings());
        Assert.Contains(backend.Check(OracleBindings()).Differences, d => d.Contains("chain output has rules", StringComparison.Ordinal));
    }

    [Fact]
    public void InstallOrReplace_ReplacesTablesAtomicallyAndIsIdempotent()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace(OracleBindings());
        uint g = backend.Generation;
        NatBinding[] fewer = OracleBindings()[..2];
        backend.InstallOrReplace(fewer);
        Assert.Equal(g + 1, backend.Generation); // one transaction, one generation step
        Assert.Equal(fewer.ToHashSet(), backend.ReadBindings().ToHashSet());
        Assert.Equal(RulesetState.InSync, backend.Check(fewer).State);
    }

    [Fact]
    public void Apply_AddsRemovesAndReplacesElementsInOneTransaction()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace([]);
        var a = new NatBinding(null, Protocol.Tcp, 8000, s_ctr4, 80);
        var b = new NatBinding(IPAddress.Parse(HostV4), Protocol.Udp, 53, s_ctr4, 53);
        var c = new NatBinding(null, Protocol.Sctp, 9000, s_ctr6, 9000);
        backend.Apply([a, b, c], []);
        Assert.Equal(new[] { a, b, c }.ToHashSet(), backend.ReadBindings().ToHashSet());

        var a2 = a with { TargetPort = 81 };
        uint g = backend.Generation;
        backend.Apply([a2], [a, b]);
        Assert.Equal(g + 1, backend.Generation);
        Assert.Equal(new[] { a2, c }.ToHashSet(), backend.ReadBindings().ToHashSet());
        Assert.Matches(@"tcp \. 8000 (counter )?: 10\.99\.0\.2 \. 81", t.Exec(t.Host, "nft -s list map ip portpublisher published_any"));
    }

    [Fact]
    public void RemoveTables_DeletesOursOnlyAndSaysWhichExisted()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace(OracleBindings());
        t.Exec(t.Host, "nft add table inet someone_else");
        Assert.Equal(["ip portpublisher", "ip6 portpublisher"], backend.RemoveTables());
        Assert.Equal("table inet someone_else", t.Exec(t.Host, "nft list tables").Trim());

        // Absent tables are skipped, each family on its own.
        Assert.Empty(backend.RemoveTables());
        backend.InstallOrReplace([]);
        t.Exec(t.Host, "nft delete table ip6 portpublisher");
        Assert.Equal(["ip portpublisher"], backend.RemoveTables());
        Assert.Equal("table inet someone_else", t.Exec(t.Host, "nft list tables").Trim());
    }

    [Fact]
    public void Apply_FailedBatchChangesNothing()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        var bound = new NatBinding(null, Protocol.Tcp, 8000, s_ctr4, 80);
        backend.InstallOrReplace([bound]);
        string before = t.Exec(t.Host, "nft -s list ruleset");
        uint g = backend.Generation;

        var fresh = new NatBinding(null, Protocol.Tcp, 8001, s_ctr4, 80);
        NetlinkException e = Assert.Throws<NetlinkException>(() => backend.Apply([fresh, bound with { TargetPort = 99 }], []));
        Assert.True(e.IsAlreadyExists, e.Message);
        Assert.Contains("add element ip portpublisher published_any", e.Message, StringComparison.Ordinal);
        Assert.True(e.Offset > 0, "the extended ack names the offending element");

        NetlinkException missing = Assert.Throws<NetlinkException>(() => backend.Apply([fresh], [new NatBinding(null, Protocol.Udp, 1, s_ctr4, 1)]));
        Assert.True(missing.IsNotFound, missing.Message);

        Assert.Equal(g, backend.Generation);
        Assert.Equal(before, t.Exec(t.Host, "nft -s list ruleset"));
    }

    [Fact]
    public void Apply_TenThousandBindingsSplitAcrossMessagesInOneTransaction()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace([]);
        NatBinding[] many = [.. Enumerable.Range(20000, 10000).Select(p => new NatBinding(IPAddress.Parse("192.0.2.1"), Protocol.Tcp, (ushort)p, s_ctr4, (ushort)p))];
        uint g = backend.Generation;
        backend.Apply(many, []);
        Assert.Equal(g + 1, backend.Generation);
        Assert.True(backend.LastTransaction.Messages > 1, "a 64 KiB attribute holds ~1,600 elements, so 10,000 need several messages");
        Assert.Equal(10000, backend.ReadBindings().Count);
    }

    [Fact]
    public void Check_NoticesMissingTablesAndForeignEdits()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        NatBinding[] bindings = OracleBindings();
        Assert.Equal(RulesetState.Missing, backend.Check(bindings).State);
        backend.InstallOrReplace(bindings);
        Assert.Equal(RulesetState.InSync, backend.Check(bindings).State);

        t.Exec(t.Host, "nft add rule ip portpublisher prerouting counter");
        RulesetCheck drift = backend.Check(bindings);
        Assert.Equal(RulesetState.Differs, drift.State);
        Assert.Contains(drift.Differences, d => d.Contains("chain prerouting has rules", StringComparison.Ordinal));

        backend.InstallOrReplace(bindings);
        t.Exec(t.Host, "nft delete element ip6 portpublisher published_any { tcp . 9090 }");
        Assert.Contains("missing element", Assert.Single(backend.Check(bindings).Differences), StringComparison.Ordinal);

        t.Exec(t.Host, "nft flush ruleset");
        Assert.Equal(RulesetState.Missing, backend.Check(bindings).State);
    }

    [Fact]
    public async Task Traffic_ReachesTheContainerOnEveryPath()
    {
        using ThreeNamespaces t = Namespaces.All();
        using var backend = new NftablesBackend(t.HostNs);
        using Peer tcp4 = Peer.TcpServer(t.ContainerNs, ContainerV4, 80);
        using Peer tcp6 = Peer.TcpServer(t.ContainerNs, ContainerV6, 80);
        using Peer udp = Peer.UdpServer(t.ContainerNs, ContainerV4, 53);
        backend.InstallOrReplace(
        [
            new(IPAddress.Parse(HostV4), Protocol.Tcp, 8080, s_ctr4, 80),
            new(null, Protocol.Tcp, 9090, s_ctr4, 80),
            new(null, Protocol.Udp, 5353, s_ctr4, 53),
            new(IPAddress.Parse(HostV6), Protocol.Tcp, 8080, s_ctr6, 80),
            new(null, Protocol.Tcp, 9090, s_ctr6, 80),
        ]);

        // From an external client: specific and wildcard host address, IPv4 and IPv6, the client's address preserved.
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(t.ClientNs, HostV4, 8080));
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(t.ClientNs, HostV4, 9090));
        Assert.Equal($"peer={ClientV6}", await Peer.AskTcp(t.ClientNs, HostV6, 8080));
        Assert.Equal($"peer={ClientV6}", await Peer.AskTcp(t.ClientNs, HostV6, 9090));
        Assert.Equal($"peer={ClientV4}", await Peer.AskUdp(t.ClientNs, HostV4, 5353));

        // From the host itself: its own address, and 127.0.0.1 (route_localnet + masquerade of 127/8 sources).
        Assert.Equal($"peer={HostV4}", await Peer.AskTcp(t.HostNs, HostV4, 9090));
        Assert.Equal($"peer={HostToContainerV4}", await Peer.AskTcp(t.HostNs, "127.0.0.1", 9090));

        // Hairpin: the container reaches itself through the published port, masqueraded so replies come back; for
        // UDP too, whose mark is set on the flow's first (unconfirmed) packet only.
        Assert.Equal($"peer={HostToContainerV4}", await Peer.AskTcp(t.ContainerNs, HostV4, 8080));
        Assert.Equal($"peer={HostToContainerV4}", await Peer.AskUdp(t.ContainerNs, HostV4, 5353));

        // Not published: the host refuses (RST), it does not hang.
        var refused = await Assert.ThrowsAsync<SocketException>(() => Peer.AskTcp(t.ClientNs, HostV4, 7777));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        // Every new connection was counted on its binding.
        NatBindingCounter wildcard = backend.ReadCounters().Single(c => c.Binding.HostIp is null && c.Binding.HostPort == 9090 && !c.Binding.IsIPv6);
        Assert.Equal(3UL, wildcard.Packets);
        Assert.True(wildcard.Bytes >= 3 * 40);
    }

    [Fact]
    public async Task LoopbackGuard_DropsPacketsTo127FromOtherInterfaces()
    {
        using ThreeNamespaces t = Namespaces.All();
        // Let the client send to 127/8 across the wire (only in namespaces this test made).
        t.Exec(t.Client, "ip route del local 127.0.0.0/8 dev lo table local");
        t.Exec(t.Client, $"ip route add 127.0.0.0/8 via {HostV4} dev vx1");
        t.Exec(t.Client, "sysctl -qw net.ipv4.conf.vx1.route_localnet=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vx1.rp_filter=0");
        t.Exec(t.Host, "sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.vx0.rp_filter=0");
        using Peer local = Peer.TcpServer(t.HostNs, "127.0.0.2", 9999);
        using var open = new NftablesBackend(t.HostNs, new NftablesOptions { LoopbackGuard = false });
        open.InstallOrReplace([]);

        // Negative control: without the guard, route_localnet exposes the host's loopback service (CVE-2020-8558).
        Assert.StartsWith("peer=", await Peer.AskTcp(t.ClientNs, "127.0.0.2", 9999), StringComparison.Ordinal);

        using var guarded = new NftablesBackend(t.HostNs);
        guarded.InstallOrReplace([]);
        await Assert.ThrowsAsync<SocketException>(() => Peer.AskTcp(t.ClientNs, "127.0.0.2", 9999, timeoutMs: 1000));
        Assert.Matches("\"counter\": ?\\{\"packets\": ?[1-9]", t.NftJson().Replace(" ", string.Empty, StringComparison.Ordinal));

        // The host's own loopback traffic is untouched.
        Assert.StartsWith("peer=127.0.0.1", await Peer.AskTcp(t.HostNs, "127.0.0.2", 9999), StringComparison.Ordinal);
    }
}
