using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using PortPublisher.Proxy.Internal;
using PortPublisher.Proxy.Tcp;
using Xunit;
using static PortPublisher.Proxy.Tests.TcpProxyTests;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// Stopping never waits without a deadline (issue 9): with many connections open, with an event loop that does not
/// answer, with a UDP flow whose socket never comes. Deadlines of the proxy are driven by a FakeTimeProvider, so a
/// test says when one passes instead of sleeping; the 10 s waits below only bound how long a test waits for an event.
/// </summary>
public sealed class ProxyShutdownTests
{
    private const int StopTimeoutEventId = 2008;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task DisposeAsync_WithAThousandOpenConnections_EndsThemAllAndFreesThePort()
    {
        const int Connections = 1000;
        if (!FdLimit.Ensure(8 * Connections)) // per connection: client, proxy's two, backend's one; and room to spare
        {
            Assert.Skip($"RLIMIT_NOFILE's hard limit is below {8 * Connections}");
        }

        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var backend = new Backend(async s =>
        {
            var b = new byte[16];
            int n;
            while ((n = await s.ReceiveAsync(b)) > 0)
            {
                await s.SendAsync(b.AsMemory(0, n));
            }
        });
        var proxy = new UserlandProxy();
        var clients = new List<Socket>(Connections);
        try
        {
            ProxyBinding binding = proxy.Start(BoundListener(), Target(backend));
            var port = (IPEndPoint)binding.Listen;

            // In batches, so the backend's backlog (512) never overflows into SYN retransmits.
            for (int batch = 0; batch < Connections / 100; batch++)
            {
                clients.AddRange(await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
                {
                    Socket s = await Connect(binding);
                    await s.SendAsync(new byte[] { 7 }, ct);
                    Assert.Equal(1, await s.ReceiveAsync(new byte[1], ct)); // through the proxy and back: it relays
                    return s;
                })));
            }

            Assert.Equal(Connections, binding.Counters.Snapshot().Active);

            await proxy.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5), ct);

            Assert.Empty(proxy.Bindings);
            Assert.Equal(0, binding.Counters.Snapshot().Active);
            await Task.WhenAll(clients.Select(SeesTheEnd)).WaitAsync(Deadline, ct);
            using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            again.Bind(port); // no SO_REUSEADDR: this fails while any socket, listening or accepted, holds the port
        }
        finally
        {
            foreach (Socket s in clients)
            {
                s.Dispose();
            }

            await proxy.DisposeAsync();
        }
    }

    [Fact]
    public async Task StopAsync_WhenALoopDoesNotAnswer_ReturnsFalseAtTheDeadline_FreesThePort_LogsAndCounts()
    {
        var time = new FakeTimeProvider();
        var logger = new TestLogger<UserlandProxy>();
        using var healthy = new EventLoop("test loop healthy");
        using var stuck = new EventLoop("test loop stuck");
        await using var backend = new Backend(Backend.Echo);
        await using var proxy = new UserlandProxy(logger, time, [healthy, stuck]);
        var binding = (TcpProxyBinding)proxy.Start(BoundListener(), Target(backend));
        var port = (IPEndPoint)binding.Listen;
        int listenFd = binding.ListenFd;
        Assert.Equal([1, 2, 3], await RoundTrip(binding, [1, 2, 3]));

        // No connection left: one on the stuck loop would hold the port (an accepted socket shares its bind).
        await WaitFor(() => binding.Counters.Snapshot().Active == 0);
        Assert.StartsWith("socket:", FdTarget(listenFd), StringComparison.Ordinal);

        using var release = new ManualResetEventSlim();
        await LoopHold.Hold(stuck, release);
        long timeoutsBefore = UserlandProxy.StopTimeouts;
        try
        {
            ValueTask<bool> stop = proxy.StopAsync(binding, TimeSpan.FromSeconds(5));
            Assert.False(stop.IsCompleted); // the stuck loop cannot have answered, and the fake clock has not moved

            // The healthy loop answers in a pass, which in real time is later than "at once": let it, before the deadline.
            await healthy.InvokeAsync(() => { }).WaitAsync(Deadline, TestContext.Current.CancellationToken);
            time.Advance(TimeSpan.FromSeconds(5));
            Assert.False(await stop.AsTask().WaitAsync(Deadline, TestContext.Current.CancellationToken));

            Assert.True(UserlandProxy.StopTimeouts > timeoutsBefore);
            Assert.Empty(proxy.Bindings);
            (LogLevel Level, int EventId, string Message)[] errors = [.. logger.Entries.Where(e => e.EventId == StopTimeoutEventId)];
            (LogLevel level, _, string message) = Assert.Single(errors);
            Assert.Equal(LogLevel.Error, level);
            Assert.Contains(port.ToString(), message, StringComparison.Ordinal);
            Assert.Contains("test loop stuck", message, StringComparison.Ordinal);

            // The port is free now, though a loop never let go of the listener...
            using (var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                again.Bind(port);
            }

            // ...whose fd number stays taken (by /dev/null) while that loop may still act on it, so no socket opened
            // meanwhile can get the number and be accepted from by a loop that resumes late.
            Assert.Equal("/dev/null", FdTarget(listenFd));

            // Asked again, the binding answers as its first stop did, at once.
            Assert.False(await proxy.StopAsync(binding, TimeSpan.Zero));
        }
        finally
        {
            release.Set();
        }

        // The loop answers late: its Stop runs (queued before this), and then the held number is let go.
        await stuck.InvokeAsync(() => { }).WaitAsync(Deadline, TestContext.Current.CancellationToken);
        await WaitFor(() => FdTarget(listenFd) != "/dev/null");
    }

    [Fact]
    public async Task DisposeAsync_StopsEveryBindingAtOnce_UnderOneDeadline()
    {
        var time = new FakeTimeProvider();
        using var stuck = new EventLoop("test loop stuck for all");
        await using var backend = new Backend(Backend.Echo);
        var proxy = new UserlandProxy(null, time, [stuck]);
        IPEndPoint[] ports = [.. Enumerable.Range(0, 3).Select(_ => (IPEndPoint)proxy.Start(BoundListener(), Target(backend)).Listen)];
        using var release = new ManualResetEventSlim();
        await LoopHold.Hold(stuck, release);
        try
        {
            ValueTask dispose = proxy.DisposeAsync();
            Assert.False(dispose.IsCompleted);

            // One advance ends all three: one after the other, each would start its deadline only when the one
            // before gave up, and the second would never see its own pass.
            time.Advance(UserlandProxy.DefaultStopTimeout);
            await dispose.AsTask().WaitAsync(Deadline, TestContext.Current.CancellationToken);
            Assert.Empty(proxy.Bindings);
            foreach (IPEndPoint port in ports)
            {
                using var again = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                again.Bind(port);
            }
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task Udp_StopAsync_WhileAFlowWaitsForItsSocket_DoesNotWaitForItAndClosesItWhenItComes()
    {
        // The flow's socket is asked of the "namespace thread", which does not answer. The relay runs on an event
        // loop and waits for nobody, so the stop confirms at once (no deadline passes), the port is free, and the
        // socket that comes later is closed instead of becoming a flow of a stopped binding.
        var time = new FakeTimeProvider();
        var logger = new TestLogger<UserlandProxy>();
        var sockets = new StallingSocketFactory();
        await using var proxy = new UserlandProxy(logger, time);
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ProxyBinding binding = proxy.Start(listener, new ProxyTarget(new IPEndPoint(IPAddress.Loopback, 9), sockets));
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        await client.SendToAsync("x"u8.ToArray(), binding.Listen, TestContext.Current.CancellationToken);
        await sockets.Asked.Task.WaitAsync(Deadline, TestContext.Current.CancellationToken);

        Assert.True(await proxy.StopAsync(binding, TimeSpan.FromSeconds(5)).AsTask().WaitAsync(Deadline, TestContext.Current.CancellationToken));
        Assert.DoesNotContain(logger.Entries, e => e.EventId == StopTimeoutEventId);
        using (var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            again.Bind(binding.Listen);
        }

        var late = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sockets.Answer(late);
        await WaitFor(() => late.SafeHandle.IsClosed);
        Assert.Equal(0, binding.Counters.Snapshot().Total);
    }

    [Fact]
    public async Task Udp_StopAsync_WithItsLoopStuck_ReturnsFalseAtTheDeadlineAndFreesThePort()
    {
        var time = new FakeTimeProvider();
        var logger = new TestLogger<UserlandProxy>();
        using var loop = new EventLoop("udp stuck loop");
        await using var proxy = new UserlandProxy(logger, time, [loop]);
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        ProxyBinding binding = proxy.Start(listener, new ProxyTarget(new IPEndPoint(IPAddress.Loopback, 9), CurrentNamespaceSocketFactory.Instance));
        using var release = new ManualResetEventSlim();
        try
        {
            await LoopHold.Hold(loop, release);
            ValueTask<bool> stop = proxy.StopAsync(binding, TimeSpan.FromSeconds(5));
            Assert.False(stop.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(5));
            Assert.False(await stop.AsTask().WaitAsync(Deadline, TestContext.Current.CancellationToken));
            Assert.Contains(logger.Entries, e => e.EventId == StopTimeoutEventId && e.Message.Contains("udp stuck loop", StringComparison.Ordinal));
            using var again = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            again.Bind(binding.Listen); // the port is free although the loop never answered
        }
        finally
        {
            release.Set();
        }
    }

    /// <summary>Where /proc/self/fd/N points ("socket:[…]", "/dev/null"), or null once the number is closed.</summary>
    private static string? FdTarget(int fd)
    {
        try
        {
            return new FileInfo($"/proc/self/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>A client of a stopped binding reads a reset (the proxy aborts its connections) or, at worst, EOF.</summary>
    private static async Task SeesTheEnd(Socket s)
    {
        try
        {
            Assert.Equal(0, await s.ReceiveAsync(new byte[16]));
        }
        catch (SocketException e)
        {
            Assert.Equal(SocketError.ConnectionReset, e.SocketErrorCode);
        }
    }
}
