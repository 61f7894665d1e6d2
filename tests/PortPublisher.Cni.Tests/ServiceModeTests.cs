using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Cni.Tests.Harness;
using static PortPublisher.Cni.Tests.ProtocolTests;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The plugin with portpublisherd running in the throwaway host namespace: ADD, DEL, CHECK and GC go through its
/// socket, so <c>ls</c> and <c>port</c> show CNI attachments; the runtime's own hold on the host ports does not get in
/// the way; direct-mode attachments made while the service was down keep their ports and go on being the direct mode's.
/// </summary>
[Trait("Category", "Netns")]
public sealed class ServiceModeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ppcni-svc-").FullName;
    private ThreeNamespaces? _ns;
    private ServiceProcess? _service;

    private bool _dualStack;

    private ThreeNamespaces Ns => _ns ??= ThreeNamespaces.Create(containerIPv6: _dualStack, forwarding: false);

    private string Options => $"\"socket\":\"{_dir}/svc/pp.sock\",\"stateDir\":\"{_dir}/state\"";

    private string Netns => $"/run/netns/{Ns.Container}";

    [Fact]
    public async Task Add_GoesThroughTheService_PortAgrees_TrafficFlows_AndDelUnpublishes()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        _service = ServiceProcess.Start(ns.Host, Path.Combine(_dir, "svc"));
        using Peer web = Peer.TcpServer(ns.ContainerNs, "0.0.0.0", 80);

        // As Podman's conmon does, someone else holds the host port: a CNI publication must not need it.
        using Socket holder = ns.HostNs.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Any, 18080));
            s.Listen();
            return s;
        });

        string conf = Conf(DirectModeTests.Mappings(), Options, ifName: "vc0");
        Outcome add = PluginProcess.Ok(ns.Host, Env("ADD", Netns, ifName: "vc0"), conf);
        Assert.Contains("(service)", add.Stderr, StringComparison.Ordinal);

        string name = $"cni-{ContainerId}-vc0";
        (int code, string port, string err) = _service.Cli("port", name);
        Assert.True(code == 0, err);
        Assert.Equal("53/udp -> 0.0.0.0:18082\n80/tcp -> 0.0.0.0:18080\n80/tcp -> 127.0.0.1:18081\n", port);
        JsonElement listed = JsonDocument.Parse(_service.Cli("ls", "--json").Stdout).RootElement.EnumerateArray().Single();
        Assert.Equal(ContainerId, listed.GetProperty("cni").GetProperty("containerId").GetString());
        Assert.Equal("ppnet", listed.GetProperty("cni").GetProperty("network").GetString());

        Assert.Equal($"peer={ThreeNamespaces.ClientV4}", await Peer.AskTcp(ns.ClientNs, ThreeNamespaces.HostV4, 18080));
        Assert.StartsWith("peer=", await Peer.AskTcp(ns.HostNs, "127.0.0.1", 18080), StringComparison.Ordinal);
        Assert.StartsWith("peer=", await Peer.AskTcp(ns.HostNs, "127.0.0.1", 18081), StringComparison.Ordinal);
        Assert.Equal($"peer={ThreeNamespaces.HostToContainerV4}", await Peer.AskTcp(ns.ContainerNs, ThreeNamespaces.HostV4, 18080));

        PluginProcess.Ok(ns.Host, Env("CHECK", Netns, ifName: "vc0"), conf);
        Outcome differs = PluginProcess.Run(ns.Host, Env("CHECK", Netns, ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0"));
        Assert.Equal(104, differs.ErrorCode);

        // A second ADD of the same attachment replaces it.
        PluginProcess.Ok(ns.Host, Env("ADD", Netns, ifName: "vc0"), Conf(Map(18085, 80), Options, ifName: "vc0"));
        Assert.Equal("80/tcp -> 0.0.0.0:18085\n", _service.Cli("port", name).Stdout);

        PluginProcess.Ok(ns.Host, Env("DEL", Netns, ifName: "vc0"), conf);
        Assert.Equal("[]", _service.Cli("ls", "--json").Stdout.Trim());
        PluginProcess.Ok(ns.Host, Env("DEL", string.Empty, ifName: "vc0"), $"{{\"cniVersion\":\"1.0.0\",\"name\":\"ppnet\",{Options}}}");
        Assert.Equal("0", ns.Exec(ns.Host, "cat /proc/sys/net/ipv4/conf/vh0/route_localnet").Trim());
    }

    [Fact]
    public async Task Add_OfADualStackContainer_PublishesBothFamiliesThroughTheService()
    {
        Root.Require();
        _dualStack = true;
        ThreeNamespaces ns = Ns;
        _service = ServiceProcess.Start(ns.Host, Path.Combine(_dir, "svc"));
        using Peer web4 = Peer.TcpServer(ns.ContainerNs, ThreeNamespaces.ContainerV4, 80);
        using Peer web6 = Peer.TcpServer(ns.ContainerNs, ThreeNamespaces.ContainerV6, 80);

        string conf = Conf(Map(18080, 80), Options, addresses: $"\"{ThreeNamespaces.ContainerV4}/24\",\"{ThreeNamespaces.ContainerV6}/64\"", ifName: "vc0");
        Outcome add = PluginProcess.Ok(ns.Host, Env("ADD", Netns, ifName: "vc0"), conf);
        Assert.Contains("(service)", add.Stderr, StringComparison.Ordinal);
        Assert.Equal("80/tcp -> 0.0.0.0:18080\n80/tcp -> [::]:18080\n", _service.Cli("port", $"cni-{ContainerId}-vc0").Stdout);

        // Each family to the container's address of that family, the client's address kept.
        Assert.Equal($"peer={ThreeNamespaces.ClientV4}", await Peer.AskTcp(ns.ClientNs, ThreeNamespaces.HostV4, 18080));
        Assert.Equal($"peer={ThreeNamespaces.ClientV6}", await Peer.AskTcp(ns.ClientNs, ThreeNamespaces.HostV6, 18080));
        PluginProcess.Ok(ns.Host, Env("CHECK", Netns, ifName: "vc0"), conf);
        JsonElement listed = JsonDocument.Parse(_service.Cli("ls", "--json").Stdout).RootElement.EnumerateArray().Single();
        Assert.Equal([ThreeNamespaces.ContainerV4, ThreeNamespaces.ContainerV6], listed.GetProperty("targetIps").EnumerateArray().Select(e => e.GetString()));

        // CHECK compares each family with its own target: another IPv6 address in prevResult, or an IPv4-only one, fails.
        string otherV6 = Conf(Map(18080, 80), Options, addresses: $"\"{ThreeNamespaces.ContainerV4}/24\",\"fd00:99::99/64\"", ifName: "vc0");
        Assert.Equal(104, PluginProcess.Run(ns.Host, Env("CHECK", Netns, ifName: "vc0"), otherV6).ErrorCode);
        Assert.Equal(104, PluginProcess.Run(ns.Host, Env("CHECK", Netns, ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0", addresses: $"\"{ThreeNamespaces.ContainerV4}/24\"")).ErrorCode);

        PluginProcess.Ok(ns.Host, Env("DEL", Netns, ifName: "vc0"), conf);
        Assert.Equal("[]", _service.Cli("ls", "--json").Stdout.Trim());
        Assert.DoesNotContain("18080", ns.Exec(ns.Host, "nft list table ip6 portpublisher"), StringComparison.Ordinal);
    }

    [Fact]
    public void DirectAttachments_KeepTheirPortsAndTheirMode_OnceTheServiceRuns()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        PluginProcess.Ok(ns.Host, Env("ADD", Netns, containerId: "early", ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0"));
        Assert.Contains("table ip portpublisher-cni", ns.Exec(ns.Host, "nft list tables"), StringComparison.Ordinal);

        _service = ServiceProcess.Start(ns.Host, Path.Combine(_dir, "svc"));
        Outcome taken = PluginProcess.Run(ns.Host, Env("ADD", Netns, containerId: "late", ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0"));
        Assert.Equal(100, taken.ErrorCode);
        Assert.Equal("[]", _service.Cli("ls", "--json").Stdout.Trim());

        PluginProcess.Ok(ns.Host, Env("ADD", Netns, containerId: "late", ifName: "vc0"), Conf(Map(18090, 80), Options, ifName: "vc0"));
        PluginProcess.Ok(ns.Host, Env("CHECK", Netns, containerId: "early", ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0"));
        PluginProcess.Ok(ns.Host, Env("CHECK", Netns, containerId: "late", ifName: "vc0"), Conf(Map(18090, 80), Options, ifName: "vc0"));

        PluginProcess.Ok(ns.Host, Env("DEL", Netns, containerId: "early", ifName: "vc0"), Conf(Map(18080, 80), Options, ifName: "vc0"));
        Assert.DoesNotContain("portpublisher-cni", ns.Exec(ns.Host, "nft list tables"), StringComparison.Ordinal);
        Assert.Contains("cni-late-vc0", _service.Cli("ls").Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Gc_ThroughTheService_RemovesOnlyItsNetworksStaleAttachments_AndARestartKeepsThem()
    {
        Root.Require();
        ThreeNamespaces ns = Ns;
        _service = ServiceProcess.Start(ns.Host, Path.Combine(_dir, "svc"));
        foreach ((string id, int port, string net) in new[] { ("keep", 18080, "ppnet"), ("stale", 18081, "ppnet"), ("elsewhere", 18082, "othernet") })
        {
            PluginProcess.Ok(ns.Host, Env("ADD", Netns, containerId: id, ifName: "vc0"), Conf(Map(port, 80), Options, version: "1.1.0", ifName: "vc0", name: net));
        }

        _service.Stop();
        _service.Dispose();
        _service = ServiceProcess.Start(ns.Host, Path.Combine(_dir, "svc"));
        Assert.Equal(3, JsonDocument.Parse(_service.Cli("ls", "--json").Stdout).RootElement.GetArrayLength());

        PluginProcess.Ok(ns.Host, Env("GC"), $"{{\"cniVersion\":\"1.1.0\",\"name\":\"ppnet\",{Options},\"cni.dev/valid-attachments\":[{{\"containerID\":\"keep\",\"ifname\":\"vc0\"}}]}}");
        string ls = _service.Cli("ls").Stdout;
        Assert.Contains("cni-keep-vc0", ls, StringComparison.Ordinal);
        Assert.DoesNotContain("cni-stale-vc0", ls, StringComparison.Ordinal);
        Assert.Contains("cni-elsewhere-vc0", ls, StringComparison.Ordinal);
        PluginProcess.Ok(ns.Host, Env("STATUS"), $"{{\"cniVersion\":\"1.1.0\",\"name\":\"ppnet\",{Options}}}");
    }

    public void Dispose()
    {
        _service?.Dispose();
        _ns?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
