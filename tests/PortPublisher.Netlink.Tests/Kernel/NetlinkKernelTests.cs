using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Conntrack;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;
using PortPublisher.Netlink.Route;
using Xunit;
using PortPublisher.TestKit;
using static PortPublisher.TestKit.Shell;
using static PortPublisher.TestKit.ThreeNamespaces;

namespace PortPublisher.Netlink.Tests.Kernel;

[Trait("Category", "Netns")]
public class NetlinkKernelTests
{
    [Fact]
    public void EventMonitor_ReportsASecondWritersFlush()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        var events = new BlockingCollection<NftEvent>();
        using var backend = new NftablesBackend(t.HostNs);
        using var monitor = new NftEventMonitor(events.Add, t.HostNs);
        backend.InstallOrReplace([new NatBinding(null, Protocol.Tcp, 80, IPAddress.Parse("10.0.0.2"), 80)]);

        // Our own transaction is visible, and tagged with our port id.
        NftEvent ours = Next(events, e => e.Kind == "NEWTABLE");
        Assert.Equal(backend.PortId, ours.PortId);
        Next(events, e => e.Kind == "NEWGEN");

        // A second writer (another netlink socket: nft) flushes everything.
        t.Exec(t.Host, "nft flush ruleset");
        NftEvent flush = Next(events, e => e.Kind == "DELTABLE" && e.Table == "portpublisher");
        Assert.NotEqual(backend.PortId, flush.PortId);
        Assert.Equal(RulesetState.Missing, backend.Check([]).State);
    }

    [Fact]
    public void Commit_WithAStaleGenerationIsRefusedWithERESTART()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var conn = new NftConnection(t.HostNs);
        uint g = conn.GetGeneration();
        var batch = new NftBatch();
        batch.AddTable(NfNetlink.NFPROTO_IPV4, "ppgen");
        conn.Commit(batch, g);
        Assert.Equal(g + 1, conn.GetGeneration());

        var stale = new NftBatch();
        stale.AddTable(NfNetlink.NFPROTO_IPV4, "ppgen2");
        NetlinkException e = Assert.Throws<NetlinkException>(() => conn.Commit(stale, g));
        Assert.Equal(85, e.Errno);
        Assert.DoesNotContain("ppgen2", t.Exec(t.Host, "nft list tables"), StringComparison.Ordinal);
    }

    [Fact]
    public void Commit_ReportsTheFailingOperationWithItsOffset()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var conn = new NftConnection(t.HostNs);
        var batch = new NftBatch();
        batch.AddTable(NfNetlink.NFPROTO_IPV4, "ppok");
        batch.AddChain(NfNetlink.NFPROTO_IPV4, "ppmissing", "c");
        NetlinkException e = Assert.Throws<NetlinkException>(() => conn.Commit(batch));
        Assert.True(e.IsNotFound);
        Assert.StartsWith("add chain ip ppmissing c: ENOENT", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("ppok", t.Exec(t.Host, "nft list tables"), StringComparison.Ordinal);
    }

    [Fact]
    public void Route_ListsAddressesAndFindsTheOutputInterface()
    {
        using ThreeNamespaces t = Namespaces.All();
        using var rt = new RouteNetlink(t.HostNs);
        IReadOnlyList<InterfaceAddress> addresses = rt.GetAddresses();
        Assert.Contains(addresses, a => a.Address.Equals(IPAddress.Parse(HostV4)) && a.InterfaceName == "vx0" && a.PrefixLength == 24);
        Assert.Contains(addresses, a => a.Address.Equals(IPAddress.Parse(HostV6)) && a.InterfaceName == "vx0" && a.PrefixLength == 64);
        Assert.Contains(addresses, a => a.Address.Equals(IPAddress.Loopback) && a.InterfaceName == "lo");

        RouteLookup toContainer = rt.GetRoute(IPAddress.Parse(ContainerV4))!;
        Assert.Equal("vh0", toContainer.OutputInterface);
        Assert.Equal(IPAddress.Parse(HostToContainerV4), toContainer.PreferredSource);
        Assert.Equal(RouteLookup.RTN_UNICAST, toContainer.Type);
        Assert.True(rt.GetRoute(IPAddress.Parse(HostV4))!.IsLocal);
        Assert.Equal("vh0", rt.GetRoute(IPAddress.Parse(ContainerV6))!.OutputInterface);
        Assert.Null(rt.GetRoute(IPAddress.Parse("203.0.113.9")));

        // The route's interface is read by its index alone (no dump): every link of the dump by name, none that is not.
        foreach ((int index, string name) in rt.GetInterfaces())
        {
            Assert.Equal(name, rt.GetInterfaceName(index));
        }

        Assert.Null(rt.GetInterfaceName(int.MaxValue));

        using var inContainer = new RouteNetlink(t.ContainerNs);
        RouteLookup viaGateway = inContainer.GetRoute(IPAddress.Parse("203.0.113.9"))!;
        Assert.Equal(IPAddress.Parse(HostToContainerV4), viaGateway.Gateway);
    }

    [Fact]
    public async Task Conntrack_DeletingStaleUdpEntriesLetsAnOldFlowReachTheNewBinding()
    {
        using ThreeNamespaces t = Namespaces.All();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace([]);
        using Peer server = Peer.UdpServer(t.ContainerNs, ContainerV4, 53);
        var ep = new IPEndPoint(IPAddress.Parse(HostV4), 5353);
        using Socket client = t.ClientNs.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            s.Bind(new IPEndPoint(IPAddress.Any, 40053));
            return s;
        });

        // The flow starts before the port is published: its conntrack entry has no NAT.
        await client.SendToAsync("early"u8.ToArray(), ep);
        await Task.Delay(100, TestContext.Current.CancellationToken);
        backend.Apply([new NatBinding(null, Protocol.Udp, 5353, IPAddress.Parse(ContainerV4), 53)], []);
        Assert.Null(await TryReceive(client, ep));

        using var ct = new ConntrackNetlink(t.HostNs);
        Assert.True(ct.DeleteUdpByOriginalDestinationPort([5353]) >= 1);
        Assert.Equal($"peer={ClientV4}", await TryReceive(client, ep));
        Assert.Equal(0, ct.DeleteUdpByOriginalDestinationPort([9]));
    }

    private static async Task<string?> TryReceive(Socket client, IPEndPoint to)
    {
        await client.SendToAsync("again"u8.ToArray(), to);
        var buffer = new byte[128];
        using var cts = new CancellationTokenSource(700);
        try
        {
            int n = await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, n).Trim();
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (SocketException)
        {
            return null; // ICMP port unreachable from the host
        }
    }

    private static NftEvent Next(BlockingCollection<NftEvent> events, Func<NftEvent, bool> match)
    {
        using var cts = new CancellationTokenSource(5000);
        while (true)
        {
            NftEvent e = events.Take(cts.Token);
            if (match(e))
            {
                return e;
            }
        }
    }
}
