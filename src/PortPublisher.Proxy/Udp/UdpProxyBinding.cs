using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Udp;

/// <summary>
/// A UDP binding on one of the event loops (bindings are spread over them round-robin): datagrams from each client
/// address form a flow with its own upstream socket in the target namespace; replies go back from the address the
/// client sent to (IP_PKTINFO) even on a wildcard listener. Both directions move in batches, recvmmsg(2) in and
/// sendmmsg(2) out (up to <see cref="DatagramBatch.Capacity"/> per call, grouped per flow), where System.Net.Sockets
/// took an async receive and a send per datagram and a task per flow. A flow idle for
/// <see cref="ProxyBindingOptions.UdpIdleTimeout"/> (measured with the injected <see cref="TimeProvider"/>) is closed;
/// the table holds at most <see cref="ProxyBindingOptions.MaxUdpFlows"/> flows. Never blocking: a datagram that
/// meets a full socket buffer is dropped and counted (SendFailed), as the kernel would drop it. Flow state is the
/// loop's alone; other threads reach it only by posting to the loop.
/// </summary>
internal sealed class UdpProxyBinding : ProxyBinding, IEventHandler
{
    private const int ECONNREFUSED = 111;
    private static int s_nextLoop = -1;

    /// <summary>See <see cref="Tcp.TcpProxyBinding"/>'s: what a timed-out stop puts behind the listener's fd number.</summary>
    private static readonly int s_placeholderFd = SocketNative.OpenNull();

    private readonly Socket _listener;
    private readonly int _fd;
    private readonly bool _wildcard;
    private readonly bool _v6;
    private readonly EventLoop _loop;
    private readonly Dictionary<UdpFlowKey, UdpFlow> _flows = [];

    /// <summary>The flow of each datagram of the batch being relayed (loop thread only).</summary>
    private readonly UdpFlow?[] _batchFlows = new UdpFlow?[DatagramBatch.Capacity];
    private readonly ITimer _sweeper;
    private readonly Lock _listenerGate = new();
    private Task _stop = Task.CompletedTask;
    private bool _listenerClosed;
    private long _token;
    private int _flowCount;
    private bool _stopped;

    public UdpProxyBinding(Socket listener, ProxyTarget target, ProxyBindingOptions options, ILogger logger, TimeProvider time, IReadOnlyList<EventLoop> loops)
        : base(listener.LocalEndPoint!, target, options, logger, time)
    {
        _listener = listener;
        var local = (IPEndPoint)listener.LocalEndPoint!;
        _wildcard = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any);
        _v6 = local.AddressFamily == AddressFamily.InterNetworkV6;
        if (_wildcard)
        {
            _listener.SetSocketOption(_v6 ? SocketOptionLevel.IPv6 : SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            if (_v6 && _listener.DualMode)
            {
                // A dual-stack [::] socket: its IPv4 datagrams carry IP_PKTINFO, not IPV6_PKTINFO.
                _listener.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }
        }

        _listener.Blocking = false; // recvmmsg/sendmmsg run on the loop and must say EAGAIN, not wait
        _fd = (int)_listener.SafeHandle.DangerousGetHandle();
        _loop = loops[(int)((uint)Interlocked.Increment(ref s_nextLoop) % (uint)loops.Count)];
        TimeSpan period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, options.UdpIdleTimeout.Ticks / 10));
        _sweeper = time.CreateTimer(_ => _loop.Post(Sweep), null, period, period);
        _loop.Post(Start);
        ProxyLog.Started(Logger, Protocol, Listen, target.Endpoint);
    }

    public override string Protocol => "udp";

    /// <summary>Flows currently tracked, their socket made or not (for tests and metrics; any thread).</summary>
    public int FlowCount => Volatile.Read(ref _flowCount);

    /// <summary>Datagrams from clients: one recvmmsg, then one sendmmsg per flow of the batch.</summary>
    public void OnEvents(uint events, int tag)
    {
        if (Stopping || _stopped)
        {
            return;
        }

        DatagramBatch batch = _loop.Datagrams;
        if (batch.Free < DatagramBatch.Capacity / 2)
        {
            batch.Flush(); // replies queued earlier in this pass leave now, so this batch has room
        }

        int first = batch.First;
        int n = batch.Receive(_fd, addresses: true, destinations: _wildcard);
        if (n <= 0)
        {
            return; // EAGAIN (another pass took them), or an error of an earlier send; the socket stays watched
        }

        int end = first + n;
        long now = Time.GetTimestamp();
        UdpFlow?[] flows = _batchFlows;
        for (int i = first; i < end; i++)
        {
            flows[i] = GetOrOpen(batch, i, now);
        }

        Span<int> slots = stackalloc int[DatagramBatch.Capacity];
        Span<bool> sent = stackalloc bool[DatagramBatch.Capacity];
        long bytes = 0;
        for (int i = first; i < end; i++)
        {
            if (sent[i] || flows[i] is not { } flow)
            {
                continue;
            }

            // Every datagram of this flow in the batch, in order, in one sendmmsg.
            int count = 0;
            for (int j = i; j < end; j++)
            {
                if (!sent[j] && ReferenceEquals(flows[j], flow))
                {
                    sent[j] = true;
                    slots[count++] = j;
                }
            }

            flow.LastActivity = now;
            if (flow.Fd < 0)
            {
                Wait(flow, batch, slots[..count]);
                continue;
            }

            int done = batch.SendConnected(flow.Fd, slots[..count], flow.ToTarget);
            for (int k = 0; k < Math.Max(done, 0); k++)
            {
                bytes += batch.Length(slots[k]);
            }

            if (done < count)
            {
                Counters.Error(ProxyErrorKind.SendFailed); // a full send buffer or an error: the rest is dropped
            }
        }

        Array.Clear(flows, first, n); // the loop's next batch may be another binding's: hold no flow past this one
        if (bytes > 0)
        {
            Counters.AddToTarget(bytes);
        }
    }

    /// <summary>
    /// Replies on a flow's upstream socket: one recvmmsg into the loop's batch, where they wait until the pass is over
    /// and leave with every other flow's in one sendmmsg (from the address the client sent to; a run of one size as
    /// one GSO message).
    /// </summary>
    public void Reply(UdpFlow flow)
    {
        if (flow.Closed || _stopped)
        {
            return;
        }

        DatagramBatch batch = _loop.Datagrams;
        if (batch.Free == 0)
        {
            batch.Flush();
        }

        // -ECONNREFUSED: the target answered an earlier datagram with ICMP port unreachable; the flow stays. The
        // error was consumed, and what else is queued raises the (level-triggered) event again.
        if (batch.QueueReplies(flow.Fd, _fd, flow.ClientAddress, flow.SourceControl, flow.Replies, Counters) > 0)
        {
            flow.LastActivity = Time.GetTimestamp();
        }
    }

    private protected override Task BeginStop()
    {
        // The loop lets go of the listener and closes every flow; only then is the listener closed, so the loop can
        // never be reading a closed, perhaps reused, fd number. Flows still waiting for their socket close it when it comes.
        _stop = _loop.InvokeAsync(StopOnLoop);
        return ReleaseAsync();
    }

    /// <summary>
    /// The loop did not answer in time (stuck in a handler, or starved): the port must not wait for it. As for TCP
    /// (<see cref="Tcp.TcpProxyBinding"/>), /dev/null is put behind the listener's fd number, which closes the socket
    /// (the port is free) while the number stays ours until the loop answers. The flows' sockets are the loop's: they
    /// close when it does.
    /// </summary>
    private protected override IReadOnlyList<string> Abandon()
    {
        lock (_listenerGate)
        {
            if (!_listenerClosed && (s_placeholderFd < 0 || SocketNative.Supplant(_fd, s_placeholderFd) < 0))
            {
                CloseListener();
            }
        }

        return _stop.IsCompleted ? [] : [_loop.Name];
    }

    private async Task ReleaseAsync()
    {
        await _sweeper.DisposeAsync();
        await _stop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        if (_stop.Exception is { } e)
        {
            ProxyLog.StopFailed(Logger, Protocol, Listen, Target.Endpoint, _loop.Name, e.GetBaseException());
        }

        lock (_listenerGate)
        {
            CloseListener();
        }
    }

    private void CloseListener()
    {
        if (!_listenerClosed)
        {
            _listenerClosed = true;
            _listener.Dispose();
        }
    }

    private void Start()
    {
        if (Stopping || _stopped)
        {
            return;
        }

        // Level-triggered: a batch that leaves datagrams queued is called again, after the loop's other fds had their turn.
        long token = _loop.Register(_fd, SocketNative.EPOLLIN, this, 0);
        if (token < 0)
        {
            Counters.Error(ProxyErrorKind.AcceptFailed);
            ProxyLog.AcceptFailed(Logger, Listen, new System.ComponentModel.Win32Exception((int)-token).Message);
            return;
        }

        _token = token;
    }

    private void StopOnLoop()
    {
        _stopped = true;
        _loop.Unregister(_token, _fd);
        foreach (UdpFlow flow in _flows.Values.ToArray())
        {
            Close(flow);
        }
    }

    private UdpFlow? GetOrOpen(DatagramBatch batch, int i, long now)
    {
        ReadOnlySpan<byte> destination = _wildcard ? batch.Destination(i) : [];
        var key = UdpFlowKey.Of(batch.Source(i), destination);
        if (_flows.TryGetValue(key, out UdpFlow? flow))
        {
            return flow;
        }

        var client = new UdpFlow(this, key, batch.Source(i), destination, _v6, now);
        if (_flows.Count >= Options.MaxUdpFlows)
        {
            Counters.Error(ProxyErrorKind.FlowTableFull);
            ProxyLog.FlowTableFull(Logger, Listen, Options.MaxUdpFlows, client.Client);
            return null;
        }

        ValueTask<Socket> socket;
        try
        {
            socket = Target.Sockets.CreateAsync(client.Target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or Netlink.NetlinkException)
        {
            DialFailed(client, e.Message);
            return null;
        }

        _flows[key] = client;
        Volatile.Write(ref _flowCount, _flows.Count);
        if (socket.IsCompletedSuccessfully)
        {
            Attach(client, socket.Result);
            return client.Closed ? null : client;
        }

        // The namespace's stock ran dry: the socket comes from its thread; the client's datagrams wait in the flow.
        client.Waiting = [];
        _ = socket.AsTask().ContinueWith(
            t => _loop.Post(() =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    Attach(client, t.Result);
                }
                else if (!client.Closed)
                {
                    Remove(client);
                    DialFailed(client, t.Exception?.InnerException?.Message ?? "canceled");
                }
            }),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return client;
    }

    /// <summary>The flow's socket is here: connect it to the target, watch it, and send what waited.</summary>
    private void Attach(UdpFlow flow, Socket upstream)
    {
        if (flow.Closed || _stopped || Stopping)
        {
            // It came after the flow went (the binding stopped, perhaps past the deadline): a flow made now would outlive it.
            upstream.Dispose();
            return;
        }

        long token;
        try
        {
            upstream.Blocking = false;
            upstream.Connect(flow.Target); // UDP connect only fixes the peer: no packet leaves
            token = _loop.Register((int)upstream.SafeHandle.DangerousGetHandle(), SocketNative.EPOLLIN, flow, 0);
            if (token < 0)
            {
                throw new SocketException((int)-token);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            upstream.Dispose();
            Remove(flow);
            DialFailed(flow, e.Message);
            return;
        }

        flow.Attach(upstream, (int)upstream.SafeHandle.DangerousGetHandle(), token);
        Counters.Opened();
        ProxyLog.FlowOpened(Logger, flow.Client, flow.Target);
        if (flow.Waiting is { } waiting)
        {
            flow.Waiting = null;
            long bytes = 0;
            foreach (byte[] datagram in waiting)
            {
                if (SocketNative.Send(flow.Fd, datagram) >= 0)
                {
                    bytes += datagram.Length;
                }
                else
                {
                    Counters.Error(ProxyErrorKind.SendFailed);
                }
            }

            Counters.AddToTarget(bytes);
        }
    }

    private void Wait(UdpFlow flow, DatagramBatch batch, ReadOnlySpan<int> slots)
    {
        foreach (int slot in slots)
        {
            if (flow.Waiting is { Count: < UdpFlow.MaxWaiting } waiting)
            {
                waiting.Add(batch.Data(slot).ToArray());
            }
            else
            {
                Counters.Error(ProxyErrorKind.SendFailed);
            }
        }
    }

    private void DialFailed(UdpFlow flow, string error)
    {
        Counters.Error(ProxyErrorKind.DialFailed);
        ProxyLog.DialFailed(Logger, flow.Target, flow.Client, error);
    }

    private void Sweep()
    {
        if (_stopped)
        {
            return;
        }

        long now = Time.GetTimestamp();
        foreach (UdpFlow flow in _flows.Values.ToArray())
        {
            TimeSpan idle = Time.GetElapsedTime(flow.LastActivity, now);
            if (idle >= Options.UdpIdleTimeout)
            {
                ProxyLog.FlowExpired(Logger, flow.Client, flow.Target, idle.TotalSeconds);
                Close(flow);
            }
        }
    }

    /// <summary>Forgets a flow and closes its socket (closing the fd also drops it from epoll).</summary>
    private void Close(UdpFlow flow)
    {
        Remove(flow);
        if (flow.Upstream is { } upstream)
        {
            _loop.Unregister(flow.Token, -1);
            upstream.Dispose();
        }

        if (flow.Opened)
        {
            Counters.Closed();
        }
    }

    private void Remove(UdpFlow flow)
    {
        flow.MarkClosed();
        if (_flows.TryGetValue(flow.Key, out UdpFlow? current) && ReferenceEquals(current, flow))
        {
            _flows.Remove(flow.Key);
            Volatile.Write(ref _flowCount, _flows.Count);
        }
    }
}
