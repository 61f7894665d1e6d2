using System.Net;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Cni.Tests.Harness;
using static PortPublisher.Cni.Tests.ProtocolTests;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The direct mode against the real kernel: the built plugin, run inside a throwaway host namespace (client, host and
/// container joined by veth pairs, as in ThreeNamespaces), programs its own tables, the sysctls and conntrack there,
/// and real traffic goes through. Nothing touches the root namespace.
/// </summary>
[Trait("Category", "Netns")]
public sealed class DirectModeTests : IDisposable
{
    private const string Table = "portpublisher-cni";
    private readonly string _dir = Directory.CreateTempSubdirectory("ppcni-direct-").FullName;
    private ThreeNamespaces? _ns;

    private ThreeNamespaces Ns => _ns ??= ThreeNamespaces.Create(containerIPv6: false, forwarding: false);

    private string StateFile => Path.Combine(_dir, "state", "state.json");

    // Eight plugins queue on the lock at once; on a loaded machine the JIT'ed test build can make that queue longer than
    // the default 10 s deadline, which would be a correct "try again later", not what this test is about.
    private const string Patient = ",\"timeoutSeconds\":120";

    private string Options => $"\"mode\":\"direct\",\"stateDir\":\"{_dir}/state\",\"socket\":\"{_dir}/none.sock\"";

    [Fact]
    public async Task Add_PublishesToClients_TheHost_Localhost_AndHairpin_AndDelLeavesNothing()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        using Peer web = Peer.TcpServer(ns.ContainerNs, "0.0.0.0", 80);
        using Peer dns = Peer.UdpServer(ns.ContainerNs, "0.0.0.0", 53);
        string conf = Conf(Mappings(), Options, ifName: "vc0");

        Outcome add = PluginProcess.Ok(ns.Host, Env("ADD", $"/run/netns/{ns.Container}", ifName: "vc0"), conf);
        Assert.Equal(PrevResult("1.0.0", ["10.99.0.2/24"], "vc0") + "\n", add.Stdout);

        Assert.Equal($"peer={ThreeNamespaces.ClientV4}", await Peer.AskTcp(ns.ClientNs, ThreeNamespaces.HostV4, 18080));
        Assert.Equal($"peer={ThreeNamespaces.HostToContainerV4}", await Peer.AskTcp(ns.HostNs, ThreeNamespaces.HostToContainerV4, 18080));
        Assert.StartsWith("peer=", await Peer.AskTcp(ns.HostNs, "127.0.0.1", 18080), StringComparison.Ordinal);
        Assert.StartsWith("peer=", await Peer.AskTcp(ns.HostNs, "127.0.0.1", 18081), StringComparison.Ordinal);
        Assert.Equal($"peer={ThreeNamespaces.HostToContainerV4}", await Peer.AskTcp(ns.ContainerNs, ThreeNamespaces.HostV4, 18080)); // hairpin, masqueraded
        Assert.Equal($"peer={ThreeNamespaces.ClientV4}", await Peer.AskUdp(ns.ClientNs, ThreeNamespaces.HostV4, 18082));
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => Peer.AskTcp(ns.ClientNs, ThreeNamespaces.HostV4, 18081, timeoutMs: 500));
        Assert.Equal("1", ns.Exec(ns.Host, "cat /proc/sys/net/ipv4/ip_forward").Trim());
        Assert.Equal("1", ns.Exec(ns.Host, "cat /proc/sys/net/ipv4/conf/vh0/route_localnet").Trim());

        PluginProcess.Ok(ns.Host, Env("CHECK", $"/run/netns/{ns.Container}", ifName: "vc0"), conf);

        PluginProcess.Ok(ns.Host, Env("DEL", $"/run/netns/{ns.Container}", ifName: "vc0"), conf);
        Assert.DoesNotContain(Table, ns.NftJson(), StringComparison.Ordinal);
        Assert.Equal("0", ns.Exec(ns.Host, "cat /proc/sys/net/ipv4/conf/vh0/route_localnet").Trim());
        Assert.False(File.Exists(StateFile));
        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => Peer.AskTcp(ns.ClientNs, ThreeNamespaces.HostV4, 18080, timeoutMs: 500));

        // Idempotent, and without a namespace or prevResult, as the spec allows.
        PluginProcess.Ok(ns.Host, Env("DEL", string.Empty, ifName: "vc0"), $"{{\"cniVersion\":\"1.0.0\",\"name\":\"ppnet\",{Options}}}");
    }

    [Fact]
    public void Check_FailsWhenAnElementOrTheTableIsMissing_AndAnotherAddRepairs()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        string conf = Conf(Mappings(), Options, ifName: "vc0");
        Dictionary<string, string> add = Env("ADD", $"/run/netns/{ns.Container}", ifName: "vc0"), check = Env("CHECK", $"/run/netns/{ns.Container}", ifName: "vc0");
        PluginProcess.Ok(ns.Host, add, conf);
        PluginProcess.Ok(ns.Host, check, conf);

        ns.Exec(ns.Host, $"nft delete element ip {Table} published_any '{{ tcp . 18080 }}'");
        Outcome missing = PluginProcess.Run(ns.Host, check, conf);
        Assert.Equal(104, missing.ErrorCode);
        Assert.Contains("*:18080/tcp -> 10.99.0.2:80 is missing from the tables", missing.Message, StringComparison.Ordinal);

        // A CHECK whose mappings differ from the ADD's fails too.
        Outcome other = PluginProcess.Run(ns.Host, check, Conf(Map(18080, 80), Options, ifName: "vc0"));
        Assert.Equal(104, other.ErrorCode);

        ns.Exec(ns.Host, "nft flush ruleset");
        Assert.Contains("are missing", PluginProcess.Run(ns.Host, check, conf).Message, StringComparison.Ordinal);

        // Another attachment's ADD rebuilds the tables from the state, this one's elements included.
        PluginProcess.Ok(ns.Host, Env("ADD", $"/run/netns/{ns.Container}", containerId: "other", ifName: "vc0"), Conf(Map(19000, 80), Options, ifName: "vc0"));
        PluginProcess.Ok(ns.Host, check, conf);

        Outcome unknown = PluginProcess.Run(ns.Host, Env("CHECK", $"/run/netns/{ns.Container}", containerId: "nobody", ifName: "vc0"), conf);
        Assert.Equal(104, unknown.ErrorCode);
    }

    [Fact]
    public void Add_OfAPortAnotherAttachmentOrTheServiceHolds_IsCode100AndChangesNothing()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        PluginProcess.Ok(ns.Host, Env("ADD", $"/run/netns/{ns.Container}", containerId: "first", ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0"));
        string before = File.ReadAllText(StateFile);
        string elements = ns.Exec(ns.Host, $"nft list map ip {Table} published_any");

        Outcome taken = PluginProcess.Run(ns.Host, Env("ADD", $"/run/netns/{ns.Container}", containerId: "second", ifName: "vc0"), Conf($"{Map(18090, 80)},{Map(18080, 81, hostIp: "127.0.0.1")}", Options, ifName: "vc0"));
        Assert.Equal(100, taken.ErrorCode);
        Assert.Equal("Bind for 127.0.0.1:18080 failed: port is already allocated", taken.Message);
        Assert.Equal(before, File.ReadAllText(StateFile));
        Assert.Equal(elements, ns.Exec(ns.Host, $"nft list map ip {Table} published_any"));

        // The service's tables (portpublisherd stopped, its NAT left in the kernel) hold ports too.
        using (var service = new NftablesBackend(ns.HostNs, new NftablesOptions { TableName = "portpublisher" }))
        {
            service.InstallOrReplace([new NatBinding(null, Protocol.Udp, 5353, IPAddress.Parse("10.99.0.3"), 53)]);
        }

        Outcome held = PluginProcess.Run(ns.Host, Env("ADD", $"/run/netns/{ns.Container}", containerId: "third", ifName: "vc0"), Conf(Map(5353, 53, "udp"), Options, ifName: "vc0"));
        Assert.Equal(100, held.ErrorCode);
        Assert.Contains("portpublisherd (table portpublisher)", held.Json.GetProperty("details").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Gc_RemovesTheNetworksAttachmentsNotListed_AndStatusIsReady()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        string netns = $"/run/netns/{ns.Container}";
        PluginProcess.Ok(ns.Host, Env("ADD", netns, containerId: "keep", ifName: "vc0"), Conf(Map(18080, 80), Options, version: "1.1.0", ifName: "vc0"));
        PluginProcess.Ok(ns.Host, Env("ADD", netns, containerId: "stale", ifName: "vc0"), Conf(Map(18081, 80), Options, version: "1.1.0", ifName: "vc0"));
        PluginProcess.Ok(ns.Host, Env("ADD", netns, containerId: "elsewhere", ifName: "vc0"), Conf(Map(18082, 80), Options, version: "1.1.0", ifName: "vc0", name: "othernet"));

        PluginProcess.Ok(ns.Host, Env("GC"), $"{{\"cniVersion\":\"1.1.0\",\"name\":\"ppnet\",{Options},\"cni.dev/valid-attachments\":[{{\"containerID\":\"keep\",\"ifname\":\"vc0\"}}]}}");
        string map = ns.Exec(ns.Host, $"nft list map ip {Table} published_any");
        Assert.Contains("18080", map, StringComparison.Ordinal);
        Assert.DoesNotContain("18081", map, StringComparison.Ordinal);
        Assert.Contains("18082", map, StringComparison.Ordinal);

        PluginProcess.Ok(ns.Host, Env("STATUS"), $"{{\"cniVersion\":\"1.1.0\",\"name\":\"ppnet\",{Options}}}");
    }

    [Fact]
    public void ConcurrentAddsAndDels_AreSerialisedByTheLock()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        string netns = $"/run/netns/{ns.Container}";
        const int n = 16;
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            PluginProcess.Ok(ns.Host, Env("ADD", netns, containerId: $"c{i}", ifName: "vc0"), Conf(Map(20000 + i, 80), Options + Patient, ifName: "vc0")));
        string map = ns.Exec(ns.Host, $"nft list map ip {Table} published_any");
        Assert.All(Enumerable.Range(0, n), i => Assert.Contains($"{20000 + i}", map, StringComparison.Ordinal));

        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
            PluginProcess.Ok(ns.Host, Env("DEL", netns, containerId: $"c{i}", ifName: "vc0"), Conf(Map(20000 + i, 80), Options + Patient, ifName: "vc0")));
        Assert.DoesNotContain(Table, ns.NftJson(), StringComparison.Ordinal);
        Assert.False(File.Exists(StateFile));
    }

    internal static string Mappings() => $"{Map(18080, 80)},{Map(18081, 80, hostIp: "127.0.0.1")},{Map(18082, 53, "udp")}";

    public void Dispose()
    {
        _ns?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
