using PortPublisher.Netlink;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The plugin in a real runtime: Podman 4.3 (CNI backend) runs busybox containers on a network chaining bridge +
/// host-local + portpublisher-cni, inside a throwaway host namespace, with portpublisherd running there (the plugin
/// goes through it) or not (the plugin programs its own tables). The reachability matrix the issue asks for, podman's
/// own view of the ports, <c>podman network reload</c>, <c>podman rm -f</c>, and 50 containers that leave nothing.
/// </summary>
[Trait("Category", "Podman")]
public sealed class PodmanTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Run_IsReachableFromClients_TheHost_Localhost_AndHairpin_PortAgrees_ReloadAndRmKeepTheRightElements(bool withService)
    {
        using PodmanLab lab = PodmanLab.Create(withService: withService);
        ThreeNamespaces ns = lab.Ns;
        string id = lab.Podman("run", "-d", "--name", "web", "--network", "ppnet", "-p", "18080:80", "-p", "127.0.0.1:18081:80", "-p", "18082:53/udp", PodmanLab.Image, "httpd", "-f", "-p", "80", "-h", "/www").Trim();
        string sandbox = lab.Podman("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "web").Trim();
        using NetworkNamespace container = NetworkNamespace.Open(sandbox);
        using Peer dns = Peer.UdpServer(container, "0.0.0.0", 53);

        const string Body = "hello-from-container";
        Assert.Equal(Body, lab.Curl(ns.Client, $"http://{ThreeNamespaces.HostV4}:18080/"));
        Assert.Equal(Body, lab.Curl(ns.Host, $"http://{PodmanLab.Gateway}:18080/"));
        Assert.Equal(Body, lab.Curl(ns.Host, $"http://{ThreeNamespaces.HostV4}:18080/"));
        Assert.Equal(Body, lab.Curl(ns.Host, "http://127.0.0.1:18080/"));
        Assert.Equal(Body, lab.Curl(ns.Host, "http://127.0.0.1:18081/"));
        Assert.Null(lab.Curl(ns.Client, $"http://{ThreeNamespaces.HostV4}:18081/"));
        Assert.Equal(Body, lab.CurlFromContainer("web", PodmanLab.Gateway, 18080));
        Assert.Equal(Body, lab.CurlFromContainer("web", ThreeNamespaces.HostV4, 18080));
        Assert.StartsWith($"peer={ThreeNamespaces.ClientV4}", await Peer.AskUdp(ns.ClientNs, ThreeNamespaces.HostV4, 18082), StringComparison.Ordinal);

        string[] podmanPort = Lines(lab.Podman("port", "web"));
        Assert.Equal(["53/udp -> 0.0.0.0:18082", "80/tcp -> 0.0.0.0:18080", "80/tcp -> 127.0.0.1:18081"], podmanPort);
        if (lab.Service is { } service)
        {
            (int code, string ours, string err) = service.Cli("port", $"cni-{id}-eth0");
            Assert.True(code == 0, err);
            Assert.Equal(podmanPort, Lines(ours));
        }

        IReadOnlyList<string> elements = lab.Elements();
        Assert.Equal(withService ? 5 : 3, elements.Count); // the service adds 127.0.0.1 for each address-less binding (tcp and udp)

        lab.Podman("network", "reload", "web");
        Assert.Equal(elements, lab.Elements());
        Assert.Equal(Body, lab.Curl(ns.Client, $"http://{ThreeNamespaces.HostV4}:18080/"));

        lab.Podman("rm", "-f", "-t", "0", "web");
        Assert.Empty(lab.Elements());
        Assert.Null(lab.Curl(ns.Client, $"http://{ThreeNamespaces.HostV4}:18080/"));
        if (lab.Service is { } s)
        {
            Assert.Equal("[]", s.Cli("ls", "--json").Stdout.Trim());
        }
        else
        {
            Assert.DoesNotContain("portpublisher-cni", ns.Exec(ns.Host, "nft list tables"), StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(lab.StateDir, "state.json")));
        }

        Assert.Equal("0", ns.Exec(ns.Host, $"cat /proc/sys/net/ipv4/conf/{ns.Id}b/route_localnet").Trim());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void FiftyContainers_StartedAndRemoved_LeaveNothing(bool withService)
    {
        using PodmanLab lab = PodmanLab.Create(withService: withService);
        const int n = 50;
        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
            lab.Podman("run", "-d", "--name", $"c{i}", "--network", "ppnet", "-p", $"{21000 + i}:80", "-p", $"{22000 + i}:53/udp", PodmanLab.Image, "sleep", "600"));
        Assert.Equal(withService ? 4 * n : 2 * n, lab.Elements().Count);

        Parallel.For(0, n, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => lab.Podman("rm", "-f", "-t", "0", $"c{i}"));
        Assert.Empty(lab.Elements());
        if (lab.Service is { } s)
        {
            Assert.Equal("[]", s.Cli("ls", "--json").Stdout.Trim());
        }
        else
        {
            Assert.False(File.Exists(Path.Combine(lab.StateDir, "state.json")));
        }
    }

    private static string[] Lines(string text) => [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal)];
}
