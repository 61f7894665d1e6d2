using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Issue 13: a wildcard pair (0.0.0.0 and [::] of one port, as <c>-p 8080:80</c> gives) holds its port with one
/// dual-stack socket (IPV6_V6ONLY=0), which keeps both families from anyone else and serves each family's loopback
/// clients to that family's target; where the host namespace says net.ipv6.bindv6only=1 it takes two sockets. A
/// 10,000-port range on both families therefore fits an open-file limit of 20,000.
/// </summary>
[Trait("Category", "Netns")]
public sealed partial class DualStackTests
{
    [Fact]
    public async Task AWildcardPairIsOneSocketThatNobodyElseCanBindOnEitherFamily()
    {
        await using Lab lab = await StartAsync(containerIPv6: true);
        using Peer web4 = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        using Peer web6 = Peer.TcpServer(lab.ContainerNs, ThreeNamespaces.ContainerV6, 80);
        using Peer dns4 = Peer.UdpServer(lab.ContainerNs, ContainerV4, 53);
        using Peer dns6 = Peer.UdpServer(lab.ContainerNs, ThreeNamespaces.ContainerV6, 53);
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "7301:80", "-p", "7302:53/udp").Code);

        // `port` prints both families, as Docker's does.
        Assert.Equal("0.0.0.0:7301\n[::]:7301\n", lab.Cli("port", "web", "80").Stdout);
        Assert.Equal("53/udp -> 0.0.0.0:7302\n53/udp -> [::]:7302\n80/tcp -> 0.0.0.0:7301\n80/tcp -> [::]:7301\n", lab.Cli("port", "web").Stdout);
        Assert.Equal("0.0.0.0:7302\n[::]:7302\n", lab.Cli("port", "web", "53/udp").Stdout);

        // One socket per port, bound to [::] for both families (ss shows such a socket as *:PORT).
        Assert.Equal(["*:7301"], Sockets(lab, "t", 7301));
        Assert.Equal(["*:7302"], Sockets(lab, "u", 7302));

        AssertNobodyElseCanBind(lab, 7301, 7302);

        // Loopback clients reach the listener, each family its own target; everything else is DNAT'ed.
        Assert.Equal($"peer={ContainerV4}", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 7301));
        Assert.Equal($"peer={ThreeNamespaces.ContainerV6}", await Peer.AskTcp(lab.HostNs, "::1", 7301));
        Assert.Equal($"peer={ContainerV4}", await Peer.AskUdp(lab.HostNs, "127.0.0.1", 7302));
        Assert.Equal($"peer={ThreeNamespaces.ContainerV6}", await Peer.AskUdp(lab.HostNs, "::1", 7302));
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 7301));
        Assert.Equal($"peer={ThreeNamespaces.ClientV6}", await Peer.AskTcp(lab.ClientNs, ThreeNamespaces.HostV6, 7301));

        Assert.Equal(0, lab.Cli("unpublish", "web").Code);
        Assert.Empty(Sockets(lab, "t", 7301));
        Assert.Empty(Sockets(lab, "u", 7302));
        using Socket again4 = Bind(lab, AddressFamily.InterNetwork, SocketType.Stream, 7301, reuse: false);
        using Socket again6 = Bind(lab, AddressFamily.InterNetworkV6, SocketType.Stream, 7301, reuse: false);
    }

    [Fact]
    public async Task WithBindV6OnlyInTheHostNamespaceAPairTakesTwoSockets()
    {
        await using Lab lab = await StartAsync(containerIPv6: true);
        lab.StopService(kill: false);
        lab.InHost("sysctl -qw net.ipv6.bindv6only=1"); // the lab's own host namespace, never the root's
        await lab.StartServiceAsync();
        using Peer web4 = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        using Peer web6 = Peer.TcpServer(lab.ContainerNs, ThreeNamespaces.ContainerV6, 80);
        using Peer dns4 = Peer.UdpServer(lab.ContainerNs, ContainerV4, 53);
        using Peer dns6 = Peer.UdpServer(lab.ContainerNs, ThreeNamespaces.ContainerV6, 53);
        Assert.Equal(0, lab.Cli("publish", "web", "--netns", lab.Container, "-p", "7303:80", "-p", "7304:53/udp").Code);

        Assert.Equal(["0.0.0.0:7303", "[::]:7303"], Sockets(lab, "t", 7303));
        Assert.Equal(["0.0.0.0:7304", "[::]:7304"], Sockets(lab, "u", 7304));
        Assert.Equal("0.0.0.0:7303\n[::]:7303\n", lab.Cli("port", "web", "80").Stdout);
        AssertNobodyElseCanBind(lab, 7303, 7304);
        Assert.Equal($"peer={ContainerV4}", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 7303));
        Assert.Equal($"peer={ThreeNamespaces.ContainerV6}", await Peer.AskTcp(lab.HostNs, "::1", 7303));
        Assert.Equal($"peer={ContainerV4}", await Peer.AskUdp(lab.HostNs, "127.0.0.1", 7304));
        Assert.Equal($"peer={ThreeNamespaces.ContainerV6}", await Peer.AskUdp(lab.HostNs, "::1", 7304));
    }

    [Fact]
    public async Task ATenThousandPortRangeOnBothFamiliesFitsAnOpenFileLimitOf20000()
    {
        await using Lab lab = await StartAsync(containerIPv6: true);
        lab.StopService(kill: false);
        lab.Wrapper = ["prlimit", "--nofile=20000:20000", "--"];
        await lab.StartServiceAsync();
        Assert.Contains("Max open files            20000                20000", File.ReadAllText($"/proc/{lab.ServicePid}/limits"), StringComparison.Ordinal);

        (int code, _, string stderr) = lab.Cli(TimeSpan.FromMinutes(3), "publish", "big", "--netns", lab.Container, "--mode", "nat", "-p", "40000-49999:40000-49999");
        Assert.True(code == 0, stderr);
        Assert.Equal("0.0.0.0:45678\n[::]:45678\n", lab.Cli("port", "big", "45678").Stdout);
        Assert.Equal(10_000, ListeningCount(lab, 40000, 49999));
        Assert.InRange(Directory.GetFiles($"/proc/{lab.ServicePid}/fd").Length, 10_000, 11_000);

        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 49999);
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 49999));

        Assert.Equal(0, lab.Cli(TimeSpan.FromMinutes(2), "unpublish", "big").Code);
        Assert.Equal(0, ListeningCount(lab, 40000, 49999));
    }

    /// <summary>Neither family can be bound by another process: TCP with or without SO_REUSEADDR (the port listens), UDP without it.</summary>
    private static void AssertNobodyElseCanBind(Lab lab, int tcpPort, int udpPort)
    {
        foreach (AddressFamily family in new[] { AddressFamily.InterNetwork, AddressFamily.InterNetworkV6 })
        {
            foreach (bool reuse in new[] { false, true })
            {
                SocketException e = Assert.Throws<SocketException>(() => Bind(lab, family, SocketType.Stream, tcpPort, reuse).Dispose());
                Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
            }

            SocketException u = Assert.Throws<SocketException>(() => Bind(lab, family, SocketType.Dgram, udpPort, reuse: false).Dispose());
            Assert.Equal(SocketError.AddressAlreadyInUse, u.SocketErrorCode);
        }
    }

    /// <summary>A socket bound in the lab's host namespace, as another program would bind it ([::] with IPV6_V6ONLY, as Docker's).</summary>
    private static Socket Bind(Lab lab, AddressFamily family, SocketType type, int port, bool reuse) => lab.HostNs.Run(() =>
    {
        var s = new Socket(family, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        try
        {
            if (family == AddressFamily.InterNetworkV6)
            {
                s.DualMode = false;
            }

            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, reuse);
            s.Bind(new IPEndPoint(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, port));
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    });

    /// <summary>The local addresses of the host namespace's sockets on <paramref name="port"/> (t: listening TCP, u: UDP), sorted.</summary>
    private static List<string> Sockets(Lab lab, string kind, int port) =>
        [.. lab.InHost($"ss -Hln{kind} sport = :{port}").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => Columns().Split(l.Trim())[3]).Order(StringComparer.Ordinal)];

    private static int ListeningCount(Lab lab, int first, int last) =>
        lab.InHost($"ss -Hlnt '( sport >= :{first} and sport <= :{last} )'").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    [GeneratedRegex(@"\s+")]
    private static partial Regex Columns();
}
