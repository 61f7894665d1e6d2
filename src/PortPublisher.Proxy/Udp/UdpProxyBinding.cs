using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Udp;

/// <summary>
/// A UDP binding: datagrams from each client address form a flow with its own upstream socket in the target
/// namespace; replies go back from the address the client sent to (IP_PKTINFO) even on a wildcard listener. A flow
/// idle for <see cref="ProxyBindingOptions.UdpIdleTimeout"/> (measured with the injected <see cref="TimeProvider"/>)
/// is closed; the table holds at most <see cref="ProxyBindingOptions.MaxUdpFlows"/> flows.
/// </summary>
internal sealed class UdpProxyBinding : ProxyBinding
{
    // docker-proxy's UDPBufSize: the largest UDP payload over IPv4.
    private const int DatagramSize = 65507;

    private readonly Socket _listener;
    private readonly bool _wildcard;
    private readonly CancellationTokenSource _stop = new();
    // Keyed by client and the host address it sent to: replies must come from that address, and one client may talk
    // to several addresses of a wildcard binding.
    private readonly ConcurrentDictionary<(IPEndPoint Client, IPAddress? Local), UdpFlow> _flows = new();
    private readonly ITimer _sweeper;
    private readonly Task _receiveLoop;

    public UdpProxyBinding(Socket listener, ProxyTarget target, ProxyBindingOptions options, ILogger logger, TimeProvider time)
        : base(listener.LocalEndPoint!, target, options, logger, time)
    {
        _listener = listener;
        var local = (IPEndPoint)listener.LocalEndPoint!;
        _wildcard = local.Address.Equals(IPAddress.Any) || local.Address.Equals(IPAddress.IPv6Any);
        if (_wildcard)
        {
            _listener.SetSocketOption(local.AddressFamily == AddressFamily.InterNetworkV6 ? SocketOptionLevel.IPv6 : SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            if (local.AddressFamily == AddressFamily.InterNetworkV6 && _listener.DualMode)
            {
                // A dual-stack [::] socket: its IPv4 datagrams carry IP_PKTINFO, not IPV6_PKTINFO.
                _listener.SetSocketOption(SocketOptionLevel.IP, SocketOptionName.PacketInformation, true);
            }
        }

        TimeSpan period = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, options.UdpIdleTimeout.Ticks / 10));
        _sweeper = time.CreateTimer(_ => Sweep(), null, period, period);
        _receiveLoop = ReceiveLoopAsync();
        ProxyLog.Started(Logger, Protocol, Listen, target.Endpoint);
    }

    public override string Protocol => "udp";

    /// <summary>Flows currently tracked (for tests and metrics).</summary>
    public int FlowCount => _flows.Count;

    private protected override Task BeginStop()
    {
        // The port first: closing the listener frees it at once and fails a pending receive, whatever the receive
        // loop is doing. Every other wait of the loops is on _stop (socket operations) except opening a flow's
        // socket, which may wait on the namespace thread; that wait is what the deadline is for.
        Task canceled = _stop.CancelAsync();
        _listener.Dispose();
        return ReleaseAsync(canceled);
    }

    /// <summary>The receive loop (or a reply loop) did not end in time: close the flows now instead of after it.</summary>
    private protected override IReadOnlyList<string> Abandon()
    {
        List<string> stuck = _receiveLoop.IsCompleted ? [] : ["the receive loop"];
        stuck.AddRange(_flows.Values.Where(f => f.ReplyLoop is { IsCompleted: false }).Select(f => $"the reply loop of {f.Client}"));
        _ = CloseFlows();
        return stuck;
    }

    private async Task ReleaseAsync(Task canceled)
    {
        // The cancellation callbacks only complete socket operations; one that threw would be a runtime bug, and the
        // stop goes on regardless.
        await canceled.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _sweeper.DisposeAsync();
        await _receiveLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // After the receive loop has ended, so no flow can be added behind this.
        await Task.WhenAll(CloseFlows()).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    /// <summary>Closes every flow (once: whoever removes it from the table closes it) and returns their reply loops.</summary>
    private List<Task> CloseFlows()
    {
        var replies = new List<Task>();
        foreach (KeyValuePair<(IPEndPoint Client, IPAddress? Local), UdpFlow> kv in _flows)
        {
            if (_flows.TryRemove(kv))
            {
                Close(kv.Value);
                replies.Add(kv.Value.ReplyLoop ?? Task.CompletedTask);
            }
        }

        return replies;
    }

    private async Task ReceiveLoopAsync()
    {
        await Task.Yield();
        byte[] buffer = new byte[DatagramSize];
        EndPoint any = new IPEndPoint(_listener.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            IPEndPoint client;
            IPAddress? local = null;
            int n;
            try
            {
                if (_wildcard)
                {
                    SocketReceiveMessageFromResult r = await _listener.ReceiveMessageFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                    n = r.ReceivedBytes;
                    client = (IPEndPoint)r.RemoteEndPoint;
                    local = r.PacketInformation.Address;
                }
                else
                {
                    SocketReceiveFromResult r = await _listener.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token);
                    n = r.ReceivedBytes;
                    client = (IPEndPoint)r.RemoteEndPoint;
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // An ICMP error for an earlier reply (ECONNREFUSED) surfaces here on Linux; it is not ours to act on.
                continue;
            }

            UdpFlow? flow = await GetOrOpenAsync(client, local);
            if (flow is null)
            {
                continue;
            }

            flow.Touch(Time.GetTimestamp());
            try
            {
                await flow.Upstream.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                Counters.AddToTarget(n);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Counters.Error(ProxyErrorKind.SendFailed);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async ValueTask<UdpFlow?> GetOrOpenAsync(IPEndPoint client, IPAddress? local)
    {
        if (_flows.TryGetValue((client, local), out UdpFlow? flow))
        {
            return flow;
        }

        if (_flows.Count >= Options.MaxUdpFlows)
        {
            Counters.Error(ProxyErrorKind.FlowTableFull);
            ProxyLog.FlowTableFull(Logger, Listen, Options.MaxUdpFlows, client);
            return null;
        }

        Socket upstream;
        IPEndPoint target = Target.Endpoint;
        try
        {
            target = Target.For(client.Address);
            upstream = await Target.Sockets.CreateAsync(target.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            if (Stopping)
            {
                // The socket came after the stop (a namespace thread that was slow, perhaps past the deadline): a
                // flow made now would outlive the binding.
                upstream.Dispose();
                return null;
            }

            upstream.Connect(target); // UDP connect only fixes the peer: no packet leaves
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or Netlink.NetlinkException)
        {
            Counters.Error(ProxyErrorKind.DialFailed);
            ProxyLog.DialFailed(Logger, target, client, e.Message);
            return null;
        }

        flow = new UdpFlow(client, local, upstream, Time.GetTimestamp());
        _flows[(client, local)] = flow;
        Counters.Opened();
        ProxyLog.FlowOpened(Logger, client, target);
        flow.ReplyLoop = ReplyLoopAsync(flow);
        return flow;
    }

    private async Task ReplyLoopAsync(UdpFlow flow)
    {
        await Task.Yield();
        byte[] buffer = new byte[DatagramSize];
        while (true)
        {
            int n;
            try
            {
                n = await flow.Upstream.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                continue; // the target answered an earlier datagram with ICMP port unreachable; keep the flow
            }
            catch (SocketException)
            {
                return;
            }

            flow.Touch(Time.GetTimestamp());
            int error;
            try
            {
                error = flow.LocalAddress is { } from
                    ? Native.SendFrom(_listener.SafeHandle, buffer.AsSpan(0, n), flow.Client, from)
                    : TrySendTo(buffer.AsSpan(0, n), flow.Client);
            }
            catch (ObjectDisposedException)
            {
                return; // the binding stopped (the listener is closed) while this reply was on its way
            }

            if (error == 0)
            {
                Counters.AddToClient(n);
            }
            else
            {
                Counters.Error(ProxyErrorKind.SendFailed);
            }
        }
    }

    private int TrySendTo(ReadOnlySpan<byte> payload, IPEndPoint to)
    {
        try
        {
            _listener.SendTo(payload, SocketFlags.None, to);
            return 0;
        }
        catch (SocketException e)
        {
            return (int)e.SocketErrorCode;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }

    private void Sweep()
    {
        long now = Time.GetTimestamp();
        foreach (UdpFlow flow in _flows.Values)
        {
            TimeSpan idle = Time.GetElapsedTime(flow.LastActivity, now);
            if (idle >= Options.UdpIdleTimeout && _flows.TryRemove(new KeyValuePair<(IPEndPoint, IPAddress?), UdpFlow>((flow.Client, flow.LocalAddress), flow)))
            {
                ProxyLog.FlowExpired(Logger, flow.Client, Target.For(flow.Client.Address), idle.TotalSeconds);
                Close(flow);
            }
        }
    }

    private void Close(UdpFlow flow)
    {
        flow.Upstream.Dispose();
        Counters.Closed();
    }
}
