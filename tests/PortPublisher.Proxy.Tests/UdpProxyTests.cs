using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using PortPublisher.Proxy.Udp;
using Xunit;

namespace PortPublisher.Proxy.Tests;

public sealed class UdpProxyTests : IDisposable
{
    private readonly Socket _backend;
    private readonly CancellationTokenSource _cts = new();

    public UdpProxyTests()
    {
        // Answers every datagram with "<payload> from <sender>", so tests see which upstream socket carried it.
        _backend = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _ = Task.Run(async () =>
        {
            var buffer = new byte[2048];
            while (!_cts.IsCancellationRequested)
            {
                try
                {
                    SocketReceiveFromResult r = await _backend.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _cts.Token);
                    string reply = $"{Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes)} from {r.RemoteEndPoint}";
                    await _backend.SendToAsync(Encoding.ASCII.GetBytes(reply), r.RemoteEndPoint);
                }
                catch (Exception)
                {
                    return;
                }
            }
        });
    }

    public void Dispose()
    {
        _cts.Cancel();
        _backend.Dispose();
        _cts.Dispose();
    }

    private ProxyTarget Target => new((IPEndPoint)_backend.LocalEndPoint!, CurrentNamespaceSocketFactory.Instance);

    private static Socket Listener(IPAddress address)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(address, 0));
        return s;
    }

    private static async Task<(string Reply, IPEndPoint From)> Ask(Socket client, IPEndPoint to, string text)
    {
        await client.SendToAsync(Encoding.ASCII.GetBytes(text), to);
        var buffer = new byte[2048];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult r = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        return (Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes), (IPEndPoint)r.RemoteEndPoint);
    }

    private static Socket Client()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return s;
    }

    [Theory]
    [InlineData(new[] { 100, 100, 100, 100, 37 }, true)] // one size, a shorter last: one GSO send
    [InlineData(new[] { 1200, 1200, 1200 }, true)]
    [InlineData(new[] { 100, 200, 100 }, false)] // sizes differ: datagram by datagram
    [InlineData(new[] { 100, 100, 300 }, false)] // a longer last cannot be a segment
    public async Task ABurstOfOneFlow_ArrivesAsTheSameDatagrams_SentInOneGsoSendWhenTheyAreOneSize(int[] sizes, bool gso)
    {
        using var loop = new Internal.EventLoop("test loop gso");
        using var collector = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        collector.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var proxy = new UserlandProxy(null, null, [loop]);
        ProxyBinding binding = proxy.Start(Listener(IPAddress.Loopback), new ProxyTarget((IPEndPoint)collector.LocalEndPoint!, CurrentNamespaceSocketFactory.Instance));
        var listen = (IPEndPoint)binding.Listen;
        using Socket client = Client();
        // The first datagram makes the flow and its upstream socket.
        await client.SendToAsync(new byte[] { 0xFF }, listen);
        Assert.Equal([0xFF], await UdpBurst.Receive(collector));

        // The loop is held while the burst arrives, so one recvmmsg reads all of it and one send carries it on.
        await UdpBurst.SendHeldAndExpect(loop, client, listen, collector, [.. sizes.Select((size, i) => Enumerable.Range(0, size).Select(b => (byte)(i + 1 + b)).ToArray())]);

        long segmented = -1;
        await loop.InvokeAsync(() => segmented = loop.Datagrams.GsoDatagrams).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(gso ? sizes.Length : 0, segmented);
        Assert.Equal(sizes.Sum() + 1, binding.Counters.Snapshot().BytesToTarget);
    }

    [Theory]
    [InlineData(new[] { 100, 100, 100, 100, 37 }, 5, false)] // one size, a shorter last: one GSO message
    [InlineData(new[] { 1200, 1200, 1200 }, 3, true)] // from a wildcard listener: IP_PKTINFO and UDP_SEGMENT in one message
    [InlineData(new[] { 100, 300, 500 }, 0, true)] // each longer than the one before: datagram by datagram
    [InlineData(new[] { 100, 200, 100 }, 2, true)] // the first alone, then 200 and a shorter last as one message
    [InlineData(new[] { 100, 100, 300 }, 2, false)] // a longer datagram ends the run
    public async Task ABurstOfReplies_ArrivesAsTheSameDatagramsFromTheAddressTheClientSentTo_RunsOfOneSizeInOneGsoMessage(int[] sizes, int gsoDatagrams, bool wildcard)
    {
        using var loop = new Internal.EventLoop("test loop reply gso");
        using var target = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        target.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        await using var proxy = new UserlandProxy(null, null, [loop]);
        ProxyBinding binding = proxy.Start(Listener(wildcard ? IPAddress.Any : IPAddress.Loopback), new ProxyTarget((IPEndPoint)target.LocalEndPoint!, CurrentNamespaceSocketFactory.Instance));
        var listen = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)binding.Listen).Port);
        using Socket client = Client();
        await client.SendToAsync(new byte[] { 0xFF }, listen);
        (byte[] first, IPEndPoint flow) = await UdpBurst.ReceiveFrom(target);
        Assert.Equal([0xFF], first);

        // The loop is held while the target's burst arrives, so one recvmmsg reads all of it and one message carries it back.
        await UdpBurst.SendHeldAndExpect(loop, target, flow, client, [.. sizes.Select((size, i) => Enumerable.Range(0, size).Select(b => (byte)(i + 7 + b)).ToArray())], from: listen);

        long segmented = -1;
        await loop.InvokeAsync(() => segmented = loop.Datagrams.GsoDatagrams).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(gsoDatagrams, segmented);
        Assert.Equal(sizes.Sum(), binding.Counters.Snapshot().BytesToClient);
        Assert.Equal(0, binding.Counters.Snapshot().Errors.GetValueOrDefault(ProxyErrorKind.SendFailed));
    }

    [Fact]
    public async Task EachClientGetsItsOwnFlowUntilItIdlesOut()
    {
        var time = new FakeTimeProvider();
        await using var proxy = new UserlandProxy(time: time);
        var binding = (UdpProxyBinding)proxy.Start(Listener(IPAddress.Loopback), Target);
        var listen = (IPEndPoint)binding.Listen;
        using Socket a = Client(), b = Client(), c = Client();

        (string ra1, _) = await Ask(a, listen, "a1");
        (string ra2, _) = await Ask(a, listen, "a2");
        (string rb, _) = await Ask(b, listen, "b");
        (string rc, _) = await Ask(c, listen, "c");
        Assert.StartsWith("a1 from 127.0.0.1:", ra1, StringComparison.Ordinal);
        Assert.Equal(ra1[3..], ra2[3..]); // the same upstream socket for the same client
        Assert.NotEqual(ra1[3..], rb[2..]);
        Assert.Equal(3, binding.FlowCount);

        // 60 s later only a is still talking; at 91 s b and c have been idle for 91 s and are gone.
        time.Advance(TimeSpan.FromSeconds(60));
        await Ask(a, listen, "a3");
        time.Advance(TimeSpan.FromSeconds(31));
        await TcpProxyTests.WaitFor(() => binding.FlowCount == 1 && binding.Counters.Snapshot().Active == 1); // the loop forgets a flow, then counts it closed
        Assert.Equal(3, binding.Counters.Snapshot().Total);

        time.Advance(TimeSpan.FromSeconds(91));
        await TcpProxyTests.WaitFor(() => binding.FlowCount == 0 && binding.Counters.Snapshot().Active == 0);
        Assert.Equal(Encoding.ASCII.GetByteCount("a1a2bca3"), binding.Counters.Snapshot().BytesToTarget);
    }

    [Fact]
    public async Task WildcardListenerRepliesFromTheAddressTheClientSentTo()
    {
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(Listener(IPAddress.Any), Target);
        int port = ((IPEndPoint)binding.Listen).Port;
        using Socket client = Client();
        foreach (string address in new[] { "127.0.0.2", "127.0.0.3" })
        {
            (string reply, IPEndPoint from) = await Ask(client, new IPEndPoint(IPAddress.Parse(address), port), "hi");
            Assert.StartsWith("hi from", reply, StringComparison.Ordinal);
            Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), from);
        }
    }

    [Fact]
    public async Task FullFlowTableDropsNewClientsAndCountsIt()
    {
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(Listener(IPAddress.Loopback), Target, new ProxyBindingOptions { MaxUdpFlows = 1 });
        var listen = (IPEndPoint)binding.Listen;
        using Socket a = Client(), b = Client();
        await Ask(a, listen, "first");

        // The drop is an event: the counter goes up when b's datagram is thrown away, and no flow (so no upstream
        // socket that could carry a reply to b) was made for it.
        await b.SendToAsync(Encoding.ASCII.GetBytes("second"), listen);
        await TcpProxyTests.WaitFor(() => binding.Counters.Snapshot().Errors[ProxyErrorKind.FlowTableFull] == 1);
        Assert.Equal(1, binding.Counters.Snapshot().Total);
        await Ask(a, listen, "still served");
        Assert.Equal(0, b.Available);
    }

    [Fact]
    public async Task StopFreesThePort()
    {
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(Listener(IPAddress.Loopback), Target);
        using Socket a = Client();
        await Ask(a, (IPEndPoint)binding.Listen, "x");
        await proxy.StopAsync(binding);
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        again.Bind(binding.Listen);
        Assert.Equal(0, binding.Counters.Snapshot().Active);
    }

    [Fact]
    public async Task BurstsFromManyClientsEachGetTheirOwnRepliesInOrder()
    {
        // Datagrams arrive and leave in batches (recvmmsg/sendmmsg, grouped per flow): each client must still get
        // exactly its own replies, in the order it sent.
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(Listener(IPAddress.Loopback), Target);
        var listen = (IPEndPoint)binding.Listen;
        Socket[] clients = [.. Enumerable.Range(0, 4).Select(_ => Client())];
        try
        {
            const int PerClient = 40;
            for (int i = 0; i < PerClient; i++)
            {
                for (int c = 0; c < clients.Length; c++)
                {
                    await clients[c].SendToAsync(Encoding.ASCII.GetBytes($"c{c}-{i:D2}"), listen);
                }
            }

            for (int c = 0; c < clients.Length; c++)
            {
                var buffer = new byte[2048];
                for (int i = 0; i < PerClient; i++)
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    int n = await clients[c].ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                    Assert.StartsWith($"c{c}-{i:D2} from 127.0.0.1:", Encoding.ASCII.GetString(buffer, 0, n), StringComparison.Ordinal);
                }
            }

            Assert.Equal(clients.Length, ((UdpProxyBinding)binding).FlowCount);
            Assert.Equal(0, binding.Counters.Snapshot().Errors[ProxyErrorKind.SendFailed]);
        }
        finally
        {
            foreach (Socket c in clients)
            {
                c.Dispose();
            }
        }
    }

    [Fact]
    public async Task TheLargestDatagramPassesWhole()
    {
        // 65,507 bytes, the largest IPv4 UDP payload: each batch slot holds any datagram, so none is truncated.
        using var echo = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        echo.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        echo.ReceiveBufferSize = 1 << 20;
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(Listener(IPAddress.Loopback), new ProxyTarget((IPEndPoint)echo.LocalEndPoint!, CurrentNamespaceSocketFactory.Instance));
        using Socket client = Client();
        client.ReceiveBufferSize = 1 << 20;
        byte[] big = [.. Enumerable.Range(0, 65507).Select(i => (byte)(i * 7))];
        await client.SendToAsync(big, binding.Listen);

        var buffer = new byte[70000];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult got = await echo.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
        Assert.Equal(big, buffer[..got.ReceivedBytes]);
        await echo.SendToAsync(big, got.RemoteEndPoint);
        int n = await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        Assert.Equal(big, buffer[..n]);
        await TcpProxyTests.WaitFor(() => binding.Counters.Snapshot().BytesToClient == 65507); // counted once sendmmsg returns, which may be after the client has it
    }

    [Fact]
    public async Task Ipv6WildcardListenerRepliesFromTheAddressTheClientSentTo()
    {
        using var backend = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        backend.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        await using var proxy = new UserlandProxy();
        var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp) { DualMode = false };
        listener.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        ProxyBinding binding = proxy.Start(listener, new ProxyTarget((IPEndPoint)backend.LocalEndPoint!, CurrentNamespaceSocketFactory.Instance));
        using var client = new Socket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        client.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        var to = new IPEndPoint(IPAddress.IPv6Loopback, ((IPEndPoint)binding.Listen).Port);
        await client.SendToAsync("ping"u8.ToArray(), to);

        var buffer = new byte[64];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult got = await backend.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.IPv6Any, 0), cts.Token);
        Assert.Equal("ping", Encoding.ASCII.GetString(buffer, 0, got.ReceivedBytes));
        await backend.SendToAsync("pong"u8.ToArray(), got.RemoteEndPoint);
        SocketReceiveFromResult reply = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.IPv6Any, 0), cts.Token);
        Assert.Equal("pong", Encoding.ASCII.GetString(buffer, 0, reply.ReceivedBytes));
        Assert.Equal(to, reply.RemoteEndPoint);
    }

    [Fact]
    public async Task TwoBindingsOnOneLoopEachAnswerTheirOwnClients()
    {
        // Replies of every flow of a loop's pass leave together, one sendmmsg per listener: two bindings on one loop
        // must not answer through each other's socket.
        using var loop = new Internal.EventLoop("test udp loop");
        await using var proxy = new UserlandProxy(null, null, [loop]);
        ProxyBinding one = proxy.Start(Listener(IPAddress.Loopback), Target), two = proxy.Start(Listener(IPAddress.Loopback), Target);
        using Socket a = Client(), b = Client();
        for (int i = 0; i < 20; i++)
        {
            await a.SendToAsync(Encoding.ASCII.GetBytes($"one-{i:D2}"), one.Listen);
            await b.SendToAsync(Encoding.ASCII.GetBytes($"two-{i:D2}"), two.Listen);
        }

        foreach ((Socket client, ProxyBinding binding, string name) in new[] { (a, one, "one"), (b, two, "two") })
        {
            var buffer = new byte[2048];
            for (int i = 0; i < 20; i++)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                SocketReceiveFromResult r = await client.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), cts.Token);
                Assert.StartsWith($"{name}-{i:D2} from", Encoding.ASCII.GetString(buffer, 0, r.ReceivedBytes), StringComparison.Ordinal);
                Assert.Equal(binding.Listen, r.RemoteEndPoint);
            }
        }
    }
}
