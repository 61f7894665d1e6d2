using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using PortPublisher.Proxy.Internal;
using PortPublisher.Proxy.Tcp;
using Xunit;

namespace PortPublisher.Proxy.Tests;

public class TcpProxyTests
{
    internal static Socket BoundListener(IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        var s = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(address, 0));
        return s;
    }

    internal static ProxyTarget Target(Backend backend) => new(backend.EndPoint, CurrentNamespaceSocketFactory.Instance);

    internal static async Task<Socket> Connect(ProxyBinding binding)
    {
        var ep = (IPEndPoint)binding.Listen;
        var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(ep);
        return s;
    }

    internal static async Task<byte[]> RoundTrip(ProxyBinding binding, byte[] payload)
    {
        using Socket s = await Connect(binding);
        Task send = Task.Run(async () =>
        {
            for (int off = 0; off < payload.Length; off += 1 << 20)
            {
                await s.SendAsync(payload.AsMemory(off, Math.Min(1 << 20, payload.Length - off)));
            }

            s.Shutdown(SocketShutdown.Send);
        });
        var received = new MemoryStream(payload.Length);
        var buffer = new byte[256 * 1024];
        int n;
        while ((n = await s.ReceiveAsync(buffer)) > 0)
        {
            received.Write(buffer, 0, n);
        }

        await send;
        return received.ToArray();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_IsByteExactFromOneByteTo64MiB(bool zeroCopy)
    {
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend), new ProxyBindingOptions { ZeroCopy = zeroCopy });
        foreach (int size in new[] { 1, 1000, 65_543, 1 << 20, 64 << 20 })
        {
            byte[] payload = RandomNumberGenerator.GetBytes(size);
            byte[] echoed = await RoundTrip(binding, payload);
            Assert.Equal(payload.Length, echoed.Length);
            Assert.True(payload.AsSpan().SequenceEqual(echoed), $"{size} bytes came back different");
        }

        ProxyCountersSnapshot c = binding.Counters.Snapshot();
        long total = 1 + 1000 + 65_543 + (1 << 20) + (64 << 20);
        Assert.Equal(total, c.BytesToTarget);
        Assert.Equal(total, c.BytesToClient);
        Assert.Equal(5, c.Total);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Relay_ManyConcurrentConnections(bool zeroCopy)
    {
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend), new ProxyBindingOptions { ZeroCopy = zeroCopy });
        byte[][] payloads = [.. Enumerable.Range(0, 64).Select(i => RandomNumberGenerator.GetBytes(1 + (i * 7919 % (512 * 1024))))];
        byte[][] echoed = await Task.WhenAll(payloads.Select(p => RoundTrip(binding, p)));
        for (int i = 0; i < payloads.Length; i++)
        {
            Assert.True(payloads[i].AsSpan().SequenceEqual(echoed[i]), $"connection {i} corrupted");
        }

        await WaitFor(() => binding.Counters.Snapshot().Active == 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SlowBackend_ThrottlesTheClientInsteadOfBufferingInTheProxy(bool zeroCopy)
    {
        // The backend reads nothing for a while: the proxy must stop reading the client (backpressure), holding at most
        // what its socket buffers and one pipe or copy chunk hold, and then deliver every byte once the backend reads.
        byte[] payload = RandomNumberGenerator.GetBytes(64 << 20);
        var startReading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var received = new MemoryStream(payload.Length);
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new Backend(async s =>
        {
            await startReading.Task;
            var buffer = new byte[256 * 1024];
            int n;
            while ((n = await s.ReceiveAsync(buffer)) > 0)
            {
                received.Write(buffer, 0, n);
            }

            done.SetResult();
        });
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend), new ProxyBindingOptions { ZeroCopy = zeroCopy });
        using Socket client = await Connect(binding);
        Task send = Task.Run(async () =>
        {
            await client.SendAsync(payload);
            client.Shutdown(SocketShutdown.Send);
        }, TestContext.Current.CancellationToken);

        // The event that shows the backpressure: the client's kernel probes a zero window. The proxy's side of the
        // connection advertises one only once the proxy stopped reading the client, for at least a retransmission
        // timeout; a proxy that took everything into memory would keep reading, and the window would never close.
        await WaitFor(() => TcpInfo.ZeroWindowProbes(client) > 0);
        long forwarded = binding.Counters.Snapshot().BytesToTarget;

        // Both follow from the buffers' bounds while the backend reads nothing (client's send buffer ≤ 4 MiB, the
        // proxy's receive buffer ≤ 32 MiB, one 1 MiB chunk held, its send buffer and the backend's receive buffer): not
        // from how long we waited.
        Assert.False(send.IsCompleted, "the client could send 64 MiB to a backend that reads nothing");
        Assert.InRange(forwarded, 1, 32L << 20);

        startReading.SetResult();
        await send.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        await done.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
        Assert.True(payload.AsSpan().SequenceEqual(received.ToArray()));
        Assert.Equal(payload.Length, binding.Counters.Snapshot().BytesToTarget);
    }

    [Fact]
    public async Task HalfClose_ClientFinishesSendingAndStillReadsTheReply()
    {
        await using var backend = new Backend(async s =>
        {
            var ms = new MemoryStream();
            var buffer = new byte[4096];
            int n;
            while ((n = await s.ReceiveAsync(buffer)) > 0)
            {
                ms.Write(buffer, 0, n);
            }

            // Only after the client's FIN arrived: answer with what we got.
            await s.SendAsync(System.Text.Encoding.ASCII.GetBytes($"got {ms.Length}"));
            s.Shutdown(SocketShutdown.Send);
        });
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend));
        using Socket s = await Connect(binding);
        await s.SendAsync(new byte[12345]);
        s.Shutdown(SocketShutdown.Send);
        var reply = new byte[64];
        int got = 0, n;
        while ((n = await s.ReceiveAsync(reply.AsMemory(got))) > 0)
        {
            got += n;
        }

        Assert.Equal("got 12345", System.Text.Encoding.ASCII.GetString(reply, 0, got));
    }

    [Fact]
    public async Task BackendReset_ReachesTheClientAsReset()
    {
        await using var backend = new Backend(async s =>
        {
            await s.ReceiveAsync(new byte[1]);
            s.Close(0);
        });
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend));
        using Socket s = await Connect(binding);
        await s.SendAsync(new byte[] { 1 });
        SocketException e = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await s.ReceiveAsync(new byte[16]) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        await WaitFor(() => binding.Counters.Snapshot().Errors[ProxyErrorKind.TargetFailed] == 1);
    }

    [Fact]
    public async Task BackendAbsent_TheRefusalResetsTheClient_NotTheDialTimeout()
    {
        var unused = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        unused.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var dead = (IPEndPoint)unused.LocalEndPoint!;
        unused.Dispose(); // nothing listens there now

        // The proxy's clock never moves, so its dial timeout cannot fire: a reset can only come from the refusal.
        await using var proxy = new UserlandProxy(time: new FakeTimeProvider());
        ProxyBinding binding = proxy.Start(BoundListener(), new ProxyTarget(dead, CurrentNamespaceSocketFactory.Instance));

        // The reset may beat the client's own connect completion, or come on its first read.
        SocketException e = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            using Socket s = await Connect(binding);
            await s.ReceiveAsync(new byte[1]).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        });
        Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        Assert.Equal(1, binding.Counters.Snapshot().Errors[ProxyErrorKind.DialFailed]);
    }

    [Fact]
    public async Task ClientGoneMidStream_ClosesTheBackendAndCountsReturnToZero()
    {
        var backendSawEnd = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new Backend(async s =>
        {
            try
            {
                while (await s.ReceiveAsync(new byte[4096]) > 0)
                {
                }

                backendSawEnd.TrySetResult(true);
            }
            catch (SocketException)
            {
                backendSawEnd.TrySetResult(true);
            }
        });
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend));
        Socket s = await Connect(binding);
        await s.SendAsync(new byte[100_000]);
        await WaitFor(() => binding.Counters.Snapshot().Active == 1);
        s.Close(0); // the client vanishes with a reset
        Assert.True(await backendSawEnd.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken));
        await WaitFor(() => binding.Counters.Snapshot().Active == 0);
        Assert.Equal(1, binding.Counters.Snapshot().Errors[ProxyErrorKind.ClientFailed]);
    }

    [Fact]
    public async Task Ipv6ListenerReachesIpv4Target()
    {
        if (!Socket.OSSupportsIPv6)
        {
            Assert.Skip("IPv6 is disabled on this machine");
        }

        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(IPAddress.IPv6Loopback), Target(backend));
        Assert.Equal([1, 2, 3], await RoundTrip(binding, [1, 2, 3]));
    }

    [Fact]
    public async Task ProxyProtocolV2_TellsTheBackendTheClientAddress()
    {
        var header = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var backend = new Backend(async s =>
        {
            var h = new byte[28];
            int got = 0;
            while (got < h.Length)
            {
                got += await s.ReceiveAsync(h.AsMemory(got));
            }

            header.SetResult(h);
        });
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend), new ProxyBindingOptions { ProxyProtocolV2 = true });
        using Socket s = await Connect(binding);
        var local = (IPEndPoint)s.LocalEndPoint!;
        byte[] h = await header.Task.WaitAsync(TimeSpan.FromSeconds(5), TestContext.Current.CancellationToken);
        Assert.Equal("0d0a0d0a000d0a515549540a", Convert.ToHexStringLower(h, 0, 12));
        Assert.Equal(0x21, h[12]); // v2, PROXY
        Assert.Equal(0x11, h[13]); // TCP over IPv4
        Assert.Equal(12, (h[14] << 8) | h[15]);
        Assert.Equal(local.Address, new IPAddress(h.AsSpan(16, 4)));
        Assert.Equal(local.Port, (h[24] << 8) | h[25]);
        Assert.Equal(((IPEndPoint)binding.Listen).Port, (h[26] << 8) | h[27]);
    }

    [Fact]
    public async Task Stop_ClosesListenerAndConnectionsAndFreesThePortAtOnce()
    {
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy();
        ProxyBinding binding = proxy.Start(BoundListener(), Target(backend));
        var port = (IPEndPoint)binding.Listen;
        using Socket s = await Connect(binding);
        await s.SendAsync(new byte[] { 1 });
        Assert.Equal(1, await s.ReceiveAsync(new byte[1]));

        await proxy.StopAsync(binding);
        Assert.Empty(proxy.Bindings);
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(port); // no SO_REUSEADDR: this fails if anything still holds the port

        // Only a reset passes: a clean EOF ends the loop without an exception, a stalled socket ends in the token's
        // OperationCanceledException; either fails ThrowsAsync.
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await s.ReceiveAsync(new byte[16], SocketFlags.None, deadline.Token) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        Assert.Equal(0, binding.Counters.Snapshot().Active);
    }

    [Fact]
    public async Task MaxConnections_BoundsConcurrentRelays()
    {
        // One loop, so one acceptor: when it stops watching the listener, nothing else can accept.
        using var loop = new EventLoop("test loop bound");
        await using var backend = new Backend(Backend.Echo);
        var log = new TestLogger<UserlandProxy>();
        await using var proxy = new UserlandProxy(log, null, [loop]);
        var binding = (TcpProxyBinding)proxy.Start(BoundListener(), Target(backend), new ProxyBindingOptions { MaxConnections = 2 });
        using Socket a = await Connect(binding), b = await Connect(binding);
        await WaitFor(() => binding.Counters.Snapshot().Active == 2);

        // The acceptor stops watching in the very handler call that took the second slot; this runs after that call.
        int paused = 0;
        await loop.InvokeAsync(() => paused = binding.PausedAcceptors).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(1, paused);

        // Reaching the bound is counted and said, once.
        Assert.Equal(1, binding.Counters.Snapshot().Errors.GetValueOrDefault(ProxyErrorKind.ConnectionLimit));
        Assert.Single(log.Entries, e => e.EventId == 2010 && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning && e.Message.Contains("has 2 connections open", StringComparison.Ordinal));

        // So the third connection waits in the backlog: the kernel says so (once the handshake's last ACK is in,
        // which may come just after the client's connect returned), and nothing has taken it.
        using Socket c = await Connect(binding);
        await WaitFor(() => TcpInfo.AcceptQueueLength(binding.ListenFd) == 1);
        Assert.Equal(2, binding.Counters.Snapshot().Total);

        a.Shutdown(SocketShutdown.Both);
        a.Close();
        await WaitFor(() => binding.Counters.Snapshot().Total == 3);
        await c.SendAsync(new byte[] { 9 });
        var got = new byte[1];
        Assert.Equal(1, await c.ReceiveAsync(got));
        Assert.Equal(9, got[0]);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Connections_AreSpreadOverTheLoops_WhenOneLoopAcceptsThemAll(int loopCount)
    {
        // Opened one at a time, each answered before the next: the kernel wakes the first idle loop of the
        // EPOLLEXCLUSIVE listener every time, so without hand-off all of them would live on one loop.
        EventLoop[] loops = [.. Enumerable.Range(0, loopCount).Select(i => new EventLoop($"test loop spread {i}"))];
        int count = 4 * loopCount;
        var clients = new List<Socket>();
        try
        {
            await using var backend = new Backend(Backend.Echo);
            await using var proxy = new UserlandProxy(null, null, loops);
            var binding = (TcpProxyBinding)proxy.Start(BoundListener(), Target(backend));
            for (int i = 0; i < count; i++)
            {
                Socket s = await Connect(binding);
                clients.Add(s);
                await s.SendAsync(new[] { (byte)i });
                var got = new byte[1];
                Assert.Equal(1, await s.ReceiveAsync(got));
                Assert.Equal((byte)i, got[0]);
            }

            int[] living = new int[loopCount];
            for (int l = 0; l < loopCount; l++)
            {
                TcpAcceptor a = binding.Acceptors[l];
                await a.Loop.InvokeAsync(() => living[l] = a.Connections).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
                Assert.Equal(living[l], a.Loop.TcpConnections);
            }

            // Two loops compare with each other on every accept; more compare with two others in turn (so one may
            // lag a step behind).
            int slack = loopCount == 2 ? TcpAcceptor.HandOffMargin : TcpAcceptor.HandOffMargin + 1;
            Assert.Equal(count, living.Sum());
            Assert.True(living.Max() - living.Min() <= slack, $"connections per loop: {string.Join(", ", living)}");

            foreach (Socket s in clients)
            {
                s.Dispose();
            }

            await WaitFor(() => loops.All(l => l.TcpConnections == 0));
        }
        finally
        {
            foreach (Socket s in clients)
            {
                s.Dispose();
            }

            foreach (EventLoop l in loops)
            {
                l.Dispose();
            }
        }
    }

    [Fact]
    public async Task Connections_AreNotHandedToALoopStuckInAPass()
    {
        // StuckAfterMs 0: the stuck loop counts as stuck from the moment its pass begins, so this does not race a clock.
        using var healthy = new EventLoop("test loop healthy");
        using var stuck = new EventLoop("test loop stuck") { StuckAfterMs = 0 };
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy(null, null, [healthy, stuck]);
        var binding = (TcpProxyBinding)proxy.Start(BoundListener(), Target(backend));
        await stuck.InvokeAsync(() => { }).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        using var release = new ManualResetEventSlim();
        var clients = new List<Socket>();
        await LoopHold.Hold(stuck, release);
        try
        {
            // Held open, so the healthy loop's count grows: from the third on each would be handed to the stuck loop,
            // which has none, and would never be answered.
            for (byte i = 0; i < 6; i++)
            {
                Socket s = await Connect(binding);
                clients.Add(s);
                await s.SendAsync(new[] { i });
                var got = new byte[1];
                Assert.Equal(1, await s.ReceiveAsync(got).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
                Assert.Equal(i, got[0]);
            }

            Assert.Equal(0, stuck.TcpConnections);
            Assert.Equal(6, healthy.TcpConnections);
        }
        finally
        {
            release.Set();
            foreach (Socket s in clients)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public async Task AConnectionHandedOverAsItsBindingStops_IsReset_AndCountedNowhere()
    {
        using var accepting = new EventLoop("test loop accepting") { StuckAfterMs = long.MaxValue };
        using var busy = new EventLoop("test loop busy") { StuckAfterMs = long.MaxValue };
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy(null, null, [accepting, busy]);
        var binding = (TcpProxyBinding)proxy.Start(BoundListener(), Target(backend));
        var port = (IPEndPoint)binding.Listen;
        await busy.InvokeAsync(() => { }).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        using var release = new ManualResetEventSlim();
        await LoopHold.Hold(busy, release);

        // The busy loop is not waiting, so the kernel wakes only the other: two connections live there, and the
        // third is handed to the busy loop, where it waits in the queue.
        using Socket a = await Connect(binding), b = await Connect(binding);
        await WaitFor(() => accepting.TcpConnections == 2);
        using Socket c = await Connect(binding);
        await WaitFor(() => busy.TcpConnections == 1);

        Task<bool> stop;
        try
        {
            stop = proxy.StopAsync(binding, TimeSpan.FromSeconds(30)).AsTask();
        }
        finally
        {
            release.Set();
        }

        Assert.True(await stop.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketException reset = await Assert.ThrowsAsync<SocketException>(async () =>
        {
            while (await c.ReceiveAsync(new byte[16], SocketFlags.None, deadline.Token) > 0)
            {
            }
        });
        Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        Assert.Equal(0, busy.TcpConnections);
        Assert.Equal(0, accepting.TcpConnections);
        Assert.Equal(0, binding.Counters.Snapshot().Active);
        Assert.Equal(2, binding.Counters.Snapshot().Total); // the third never started

        // Nothing holds the port once the stop has returned: not the listener, not a connection in a loop's queue.
        using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        again.Bind(port);
    }

    /// <summary>Waits for a state (polled): a generous deadline, never an assertion on how long it took.</summary>
    internal static async Task WaitFor(Func<bool> condition, int timeoutMs = 10_000)
    {
        using var deadline = new CancellationTokenSource(timeoutMs);
        while (!condition())
        {
            if (deadline.IsCancellationRequested)
            {
                Assert.Fail($"condition not reached within {timeoutMs} ms");
            }

            await Task.Delay(10);
        }
    }
}
