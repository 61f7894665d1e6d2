using System.Net;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;
using static PortPublisher.Service.Tests.Net;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Spoofed SYNs to the host's 127.0.0.1 from the container's namespace and from an external client on the host's L2
/// (issue 10, probe 1): no reply ever, in steady state, during flush storms, after a stop followed by a flush, and
/// after the veth to the target is made again. A host-only service listens on 127.0.0.1 in the host namespace as the
/// thing an attacker wants to reach. The one unguarded case — kill -9 with a NAT'ed 127/8 binding, then a flush
/// before the restart — is the positive control: the probe must see replies there, or its zeros prove nothing.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class LoopbackExposureTests
{
    private const int HostOnlyPort = 7999;
    private static readonly TimeSpan s_window = TimeSpan.FromMilliseconds(300);

    [Fact]
    public async Task Auto_NeverSetsRouteLocalnet_NoSpoofedSynReachesTheHostsLoopback()
    {
        await using Lab lab = await Lab.StartAsync();
        using Peer hostOnly = Peer.TcpServer(lab.HostNs, "127.0.0.1", HostOnlyPort);
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "8080:80", "-p", "127.0.0.1:8081:80").Code);
        Assert.StartsWith("peer=", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 8081), StringComparison.Ordinal);
        Assert.Equal("0", Localnet(lab, "vh0"));

        int[] ports = [HostOnlyPort, lab.MetricsPort, 8081, 8080];
        using SynProbe fromContainer = ContainerProbe(lab);
        using SynProbe fromClient = SynProbe.Open(lab.Client, lab.ClientNs, "vx1", IPAddress.Parse(ClientV4), lab.Host, "vx0");
        Assert.Equal(0, fromContainer.Probe(ports, 50, s_window));
        Assert.Equal(0, fromClient.Probe(ports, 50, s_window));

        for (int i = 0; i < 5; i++)
        {
            lab.InHost("nft flush ruleset");
            Assert.Equal(0, fromContainer.Probe(ports, 20, TimeSpan.FromMilliseconds(50)));
        }

        lab.StopService(kill: false);
        lab.InHost("nft flush ruleset");
        Assert.Equal(0, fromContainer.Probe(ports, 50, s_window));
        Assert.Equal(0, fromClient.Probe(ports, 50, s_window));
    }

    [Fact]
    public async Task NatMode127_RouteLocalnetOnlyWhileNeeded_GuardedThroughFlushesRestartsAndARecreatedVeth()
    {
        await using Lab lab = await Lab.StartAsync();
        using Peer hostOnly = Peer.TcpServer(lab.HostNs, "127.0.0.1", HostOnlyPort);
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        Assert.Equal(0, lab.Cli("publish", "lo", "--netns", lab.Container, "--mode", "nat", "-p", "127.0.0.1:8081:80").Code);
        Assert.Equal($"peer={HostToContainerV4}", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 8081)); // DNAT'ed, masqueraded
        Assert.Equal("1", Localnet(lab, "vh0"));
        Assert.Equal("0", Localnet(lab, "vx0")); // only the link to the target

        int[] ports = [HostOnlyPort, lab.MetricsPort, 8081];
        using (SynProbe probe = ContainerProbe(lab))
        {
            Assert.Equal(0, probe.Probe(ports, 50, s_window));
            for (int i = 0; i < 5; i++)
            {
                lab.InHost("nft flush ruleset"); // the owned tables, guard included, stay
                Assert.Equal(0, probe.Probe(ports, 20, TimeSpan.FromMilliseconds(50)));
            }
        }

        // The veth to the target deleted and made again: the kernel's new link has route_localnet 0; the link watcher
        // sets it again, and the binding works again without a restart or another publish.
        Shell.Sh($"ip -n {lab.Host} link del vh0");
        Shell.Sh($"ip -n {lab.Host} link add vh0 type veth peer name vc0 netns {lab.Container}");
        Shell.Sh($"ip -n {lab.Host} addr add {HostToContainerV4}/24 dev vh0 && ip -n {lab.Host} link set vh0 up");
        Shell.Sh($"ip -n {lab.Container} addr add {ContainerV4}/24 dev vc0 && ip -n {lab.Container} link set vc0 up && ip -n {lab.Container} route add default via {HostToContainerV4}");
        await Eventually(() => Localnet(lab, "vh0") == "1", 5000, "route_localnet back on the re-created vh0");
        await Eventually(async () => await TryAsk(lab, 8081) == $"peer={HostToContainerV4}", 5000, () => "127.0.0.1:8081 through the re-created veth");
        using SynProbe again = ContainerProbe(lab);
        Assert.Equal(0, again.Probe(ports, 50, s_window));

        // The positive control: kill -9 leaves route_localnet on (nothing can reset it), and a flush before the restart
        // removes the orphaned tables with their guard. Now the probe must get through.
        lab.StopService(kill: true);
        lab.InHost("nft flush ruleset");
        int exposed = 0;
        await Eventually(() => (exposed += again.Probe(ports, 20, TimeSpan.FromMilliseconds(100))) > 0, 5000, "replies from the unguarded loopback (the probe works)");

        // The restart puts the guard back (and keeps route_localnet: the binding still needs it).
        await lab.StartServiceAsync();
        Assert.Equal("1", Localnet(lab, "vh0"));
        Assert.Equal(0, again.Probe(ports, 50, s_window));

        // A graceful stop turns route_localnet off: after it, a flush exposes nothing.
        lab.StopService(kill: false);
        Assert.Equal("0", Localnet(lab, "vh0"));
        Assert.False(File.Exists(Path.Combine(lab.StateDir, "route_localnet")));
        lab.InHost("nft flush ruleset");
        Assert.Equal(0, again.Probe(ports, 50, s_window));

        // Started again it is needed again; unpublished, it is not.
        await lab.StartServiceAsync();
        Assert.Equal("1", Localnet(lab, "vh0"));
        Assert.Equal(0, lab.Cli("unpublish", "lo").Code);
        Assert.Equal("0", Localnet(lab, "vh0"));
        Assert.False(File.Exists(Path.Combine(lab.StateDir, "route_localnet")));
    }

    private static SynProbe ContainerProbe(Lab lab) =>
        SynProbe.Open(lab.Container, lab.ContainerNs, "vc0", IPAddress.Parse(ContainerV4), lab.Host, "vh0");

    private static string Localnet(Lab lab, string link) => lab.InHost($"cat /proc/sys/net/ipv4/conf/{link}/route_localnet").Trim();

    private static async Task<string?> TryAsk(Lab lab, int port)
    {
        try
        {
            return await Peer.AskTcp(lab.HostNs, "127.0.0.1", port, timeoutMs: 500);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return null;
        }
    }
}
