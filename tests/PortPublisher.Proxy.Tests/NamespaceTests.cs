using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using PortPublisher.Netlink;
using PortPublisher.Proxy.Internal;
using PortPublisher.Proxy.Tcp;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>Dialing from inside a namespace the host cannot route to: one that has only lo.</summary>
[Trait("Category", "Netns")]
[Collection(SpawnsProcesses.Name)]
public sealed class NamespaceTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);
    private LoopbackNamespace? _lab;

    public void Dispose() => _lab?.Dispose();

    private NetworkNamespace LoopbackOnlyNamespace() => (_lab = LoopbackNamespace.Create('p')).Namespace;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Tcp_DialsIntoANamespaceWithOnlyLoopback(bool zeroCopy)
    {
        NetworkNamespace ns = LoopbackOnlyNamespace();
        using var sockets = new NamespaceSocketFactory(ns);
        await using var backend = new Backend(Backend.Echo, new IPEndPoint(IPAddress.Loopback, 8080), () => sockets.Create(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await using var proxy = new UserlandProxy();
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ProxyBinding binding = proxy.Start(listener, new ProxyTarget(new IPEndPoint(IPAddress.Loopback, 8080), sockets), new ProxyBindingOptions { ZeroCopy = zeroCopy });

        // The host's own 127.0.0.1:8080 is not the namespace's: nothing listens here.
        using (var direct = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await Assert.ThrowsAsync<SocketException>(() => direct.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 8080)));
        }

        byte[] payload = RandomNumberGenerator.GetBytes(3 << 20);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(binding.Listen);
        Task send = Task.Run(async () =>
        {
            await client.SendAsync(payload);
            client.Shutdown(SocketShutdown.Send);
        });
        var got = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await client.ReceiveAsync(buffer)) > 0)
        {
            got.Write(buffer, 0, n);
        }

        await send;
        Assert.True(payload.AsSpan().SequenceEqual(got.ToArray()));
        Assert.Equal(1, backend.Accepted);
    }

    [Fact]
    public async Task Tcp_DialThatGetsNoAnswerResetsTheClientAtTheDialTimeout()
    {
        // The SYN to 10.250.0.2 leaves through a veth whose other end has no address (and a static neighbour entry
        // spares the ARP that would fail): it is dropped there and gets no reply at all.
        NetworkNamespace ns = LoopbackOnlyNamespace();
        LoopbackNamespace.Run($"ip -n {_lab!.Name} link add v0 type veth peer name v1");
        LoopbackNamespace.Run($"ip -n {_lab!.Name} addr add 10.250.0.1/24 dev v0");
        LoopbackNamespace.Run($"ip -n {_lab!.Name} link set v0 up");
        LoopbackNamespace.Run($"ip -n {_lab!.Name} link set v1 up");
        LoopbackNamespace.Run($"ip -n {_lab!.Name} neigh add 10.250.0.2 lladdr 02:00:00:00:00:02 dev v0 nud permanent");
        using var sockets = new NamespaceSocketFactory(ns);

        // The dial timeout is measured on the proxy's clock, which this test moves; one loop, so the test knows
        // where the connection's deadline is watched.
        var time = new FakeTimeProvider();
        using var loop = new EventLoop("test loop dial");
        await using var proxy = new UserlandProxy(null, time, [loop]);
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var binding = (TcpProxyBinding)proxy.Start(listener, new ProxyTarget(new IPEndPoint(IPAddress.Parse("10.250.0.2"), 80), sockets), new ProxyBindingOptions { DialTimeout = TimeSpan.FromSeconds(1) });

        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(binding.Listen);
        Task<int> read = client.ReceiveAsync(new byte[1]);

        // The dial is under way once the loop watches its deadline (its socket may first come from the namespace thread).
        await WaitOnLoop(loop, () => binding.Acceptors[0].DialsWatched == 1);

        // Just short of the timeout: a tick looks at the deadline and lets it be. Two passes: the tick of the first
        // pass runs after the first invoke, and so before the second.
        time.Advance(TimeSpan.FromMilliseconds(999));
        await loop.InvokeAsync(() => { }).WaitAsync(Deadline, TestContext.Current.CancellationToken);
        await loop.InvokeAsync(() => { }).WaitAsync(Deadline, TestContext.Current.CancellationToken);
        Assert.Equal(0, binding.Counters.Snapshot().Errors[ProxyErrorKind.DialFailed]);
        Assert.Equal(1, binding.Counters.Snapshot().Active);

        // At the timeout the client is reset.
        time.Advance(TimeSpan.FromMilliseconds(1));
        SocketException e = await Assert.ThrowsAsync<SocketException>(() => read.WaitAsync(Deadline, TestContext.Current.CancellationToken));
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        Assert.Equal(1, binding.Counters.Snapshot().Errors[ProxyErrorKind.DialFailed]);
        await TcpProxyTests.WaitFor(() => binding.Counters.Snapshot().Active == 0);
    }

    [Fact]
    public async Task Udp_DialsIntoANamespaceWithOnlyLoopback()
    {
        NetworkNamespace ns = LoopbackOnlyNamespace();
        using var sockets = new NamespaceSocketFactory(ns);
        using Socket echo = sockets.Create(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        echo.Bind(new IPEndPoint(IPAddress.Loopback, 5353));
        _ = Task.Run(async () =>
        {
            var b = new byte[512];
            SocketReceiveFromResult r = await echo.ReceiveFromAsync(b, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0));
            await echo.SendToAsync(b.AsMemory(0, r.ReceivedBytes), r.RemoteEndPoint);
        });
        await using var proxy = new UserlandProxy();
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ProxyBinding binding = proxy.Start(listener, new ProxyTarget(new IPEndPoint(IPAddress.Loopback, 5353), sockets));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await client.SendToAsync("ping"u8.ToArray(), binding.Listen);
        var reply = new byte[16];
        using var cts = new CancellationTokenSource(Deadline);
        int n = await client.ReceiveAsync(reply, SocketFlags.None, cts.Token);
        Assert.Equal("ping", System.Text.Encoding.ASCII.GetString(reply, 0, n));
    }

    /// <summary>Waits for a state of the loop's own (read on its thread).</summary>
    private static async Task WaitOnLoop(EventLoop loop, Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(Deadline);
        while (true)
        {
            bool met = false;
            await loop.InvokeAsync(() => met = condition(), deadline.Token);
            if (met)
            {
                return;
            }

            await Task.Delay(10, deadline.Token);
        }
    }
}
