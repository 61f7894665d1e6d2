using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PortPublisher.Netlink;
using PortPublisher.Proxy.Internal;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// One dual-stack <c>[::]</c> listener (IPV6_V6ONLY=0) carries a wildcard pair: clients that come over IPv4 go to
/// <see cref="ProxyTarget.IPv4ClientsEndpoint"/>, IPv6 ones to <see cref="ProxyTarget.Endpoint"/>, for TCP and UDP (whose
/// replies must leave from the address the client sent to). In a namespace of the test's own: a [::] listener in the
/// root namespace would listen on the host's interfaces.
/// </summary>
[Trait("Category", "Netns")]
[Collection(SpawnsProcesses.Name)]
public sealed class DualStackProxyTests : IDisposable
{
    private LoopbackNamespace? _lab;

    public void Dispose() => _lab?.Dispose();

    [Fact]
    public async Task Tcp_EachFamilyGoesToItsOwnTarget()
    {
        using var sockets = new NamespaceSocketFactory(Namespace());
        await using var four = new Backend(Answer("four"), new IPEndPoint(IPAddress.Loopback, 8080), () => sockets.Create(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await using var six = new Backend(Answer("six"), new IPEndPoint(IPAddress.IPv6Loopback, 8080), () => sockets.Create(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp));
        await using var proxy = new UserlandProxy();
        Socket listener = DualStack(sockets, SocketType.Stream);
        var target = new ProxyTarget(six.EndPoint, sockets) { IPv4ClientsEndpoint = four.EndPoint };
        ProxyBinding binding = proxy.Start(listener, target);
        int port = ((IPEndPoint)binding.Listen).Port;

        Assert.Equal("four", await AskTcp(sockets, new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Equal("six", await AskTcp(sockets, new IPEndPoint(IPAddress.IPv6Loopback, port)));
        Assert.Equal((1, 1), (four.Accepted, six.Accepted));
    }

    [Fact]
    public async Task Udp_EachFamilyGoesToItsOwnTargetAndIsAnsweredFromWhereItSent()
    {
        using var sockets = new NamespaceSocketFactory(Namespace());
        using Socket four = UdpAnswerer(sockets, new IPEndPoint(IPAddress.Loopback, 5353), "four");
        using Socket six = UdpAnswerer(sockets, new IPEndPoint(IPAddress.IPv6Loopback, 5353), "six");
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(DualStack(sockets, SocketType.Dgram), new ProxyTarget((IPEndPoint)six.LocalEndPoint!, sockets) { IPv4ClientsEndpoint = (IPEndPoint)four.LocalEndPoint! });
        int port = ((IPEndPoint)binding.Listen).Port;

        Assert.Equal(("four", new IPEndPoint(IPAddress.Loopback, port)), await AskUdp(sockets, new IPEndPoint(IPAddress.Loopback, port)));
        Assert.Equal(("six", new IPEndPoint(IPAddress.IPv6Loopback, port)), await AskUdp(sockets, new IPEndPoint(IPAddress.IPv6Loopback, port)));
    }

    [Fact]
    public async Task Udp_RepliesToEitherFamily_LeaveAsOneGsoMessageBesideTheirSourceAddress()
    {
        // IPV6_PKTINFO (40 bytes of control) and UDP_SEGMENT (24) fill a slot's control space exactly; an IPv4 client of
        // the dual-stack listener gets IPV6_PKTINFO with its mapped address.
        using var sockets = new NamespaceSocketFactory(Namespace());
        using var loop = new EventLoop("test loop dual-stack reply gso");
        using Socket four = UdpBurst.Bound(sockets, IPAddress.Loopback), six = UdpBurst.Bound(sockets, IPAddress.IPv6Loopback);
        await using var proxy = new UserlandProxy(null, null, [loop]);
        ProxyBinding binding = proxy.Start(DualStack(sockets, SocketType.Dgram), new ProxyTarget((IPEndPoint)six.LocalEndPoint!, sockets) { IPv4ClientsEndpoint = (IPEndPoint)four.LocalEndPoint! });
        int port = ((IPEndPoint)binding.Listen).Port;
        foreach ((IPAddress to, Socket target) in new[] { (IPAddress.Loopback, four), (IPAddress.IPv6Loopback, six) })
        {
            using Socket client = UdpBurst.Bound(sockets, to);
            var listen = new IPEndPoint(to, port);
            await client.SendToAsync(new byte[] { 0xFF }, listen);
            (byte[] first, IPEndPoint flow) = await UdpBurst.ReceiveFrom(target);
            Assert.Equal([0xFF], first);
            await UdpBurst.SendHeldAndExpect(loop, target, flow, client, [.. Enumerable.Range(0, 3).Select(i => Enumerable.Repeat((byte)i, 1000).ToArray())], from: listen);
        }

        long segmented = -1;
        await loop.InvokeAsync(() => segmented = loop.Datagrams.GsoDatagrams).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(6, segmented);
    }

    [Fact]
    public async Task IdleListenersLeaveTheLoopsNothingToTick()
    {
        // Before issue 13 every acceptor was ticked after every pass of its loop: 10,000 idle listeners made every
        // event cost 10,000 calls. Only acceptors with a deadline (a dial in flight, an accept back-off) are ticked now.
        using var loop = new EventLoop("test idle tickers");
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy(null, null, [loop]);
        List<ProxyBinding> bindings = [.. Enumerable.Range(0, 200).Select(_ => proxy.Start(TcpProxyTests.BoundListener(), TcpProxyTests.Target(backend)))];
        await loop.InvokeAsync(() => { });
        Assert.Equal(0, await ArmedTickers(loop));

        byte[] echoed = await TcpProxyTests.RoundTrip(bindings[7], "hello"u8.ToArray());
        Assert.Equal("hello", Encoding.ASCII.GetString(echoed));
        var sw = Stopwatch.StartNew();
        while (await ArmedTickers(loop) != 0)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), "the acceptor stayed armed after its dial completed");
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    private static async Task<int> ArmedTickers(EventLoop loop)
    {
        int armed = -1;
        await loop.InvokeAsync(() => armed = loop.ArmedTickers);
        return armed;
    }

    private NetworkNamespace Namespace() => (_lab = LoopbackNamespace.Create('d')).Namespace;

    private static Func<Socket, Task> Answer(string text) => async s =>
    {
        await s.SendAsync(Encoding.ASCII.GetBytes(text));
        s.Shutdown(SocketShutdown.Send);
    };

    private static Socket DualStack(NamespaceSocketFactory sockets, SocketType type)
    {
        Socket s = sockets.Create(AddressFamily.InterNetworkV6, type, type == SocketType.Stream ? ProtocolType.Tcp : ProtocolType.Udp);
        s.DualMode = true;
        s.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        return s;
    }

    private static async Task<string> AskTcp(NamespaceSocketFactory sockets, IPEndPoint to)
    {
        using Socket c = sockets.Create(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await c.ConnectAsync(to, cts.Token);
        var buffer = new byte[64];
        int total = 0, n;
        while ((n = await c.ReceiveAsync(buffer.AsMemory(total), cts.Token)) > 0)
        {
            total += n;
        }

        return Encoding.ASCII.GetString(buffer, 0, total);
    }

    private static Socket UdpAnswerer(NamespaceSocketFactory sockets, IPEndPoint at, string text)
    {
        Socket s = sockets.Create(at.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(at);
        _ = Task.Run(async () =>
        {
            var buffer = new byte[64];
            while (true)
            {
                SocketReceiveFromResult r;
                try
                {
                    r = await s.ReceiveFromAsync(buffer, new IPEndPoint(at.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    return;
                }

                await s.SendToAsync(Encoding.ASCII.GetBytes(text), r.RemoteEndPoint);
            }
        });
        return s;
    }

    /// <summary>One datagram to <paramref name="to"/>; the answer and the address it came from.</summary>
    private static async Task<(string, IPEndPoint)> AskUdp(NamespaceSocketFactory sockets, IPEndPoint to)
    {
        using Socket c = sockets.Create(to.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        c.Bind(new IPEndPoint(to.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0));
        await c.SendToAsync("hello"u8.ToArray(), to);
        var buffer = new byte[64];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult r = await c.ReceiveFromAsync(buffer, new IPEndPoint(to.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), cts.Token);
        return (Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes), (IPEndPoint)r.RemoteEndPoint);
    }
}
