using System.Net;
using System.Net.Sockets;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// One proxied connection. (1) Dial the target from inside its namespace; if that fails, reset the client at once.
/// (2) Optionally send a PROXY v2 header. (3) Relay both directions; a FIN is forwarded as a FIN and the other
/// direction keeps going; a failure on either side resets both (RST), so an error is never turned into a clean EOF.
/// (4) Close both sockets.
/// </summary>
internal sealed class TcpConnection
{
    private readonly TcpProxyBinding _binding;
    private readonly Socket _client;
    private Socket? _target;
    private int _aborted;

    public TcpConnection(TcpProxyBinding binding, Socket client)
    {
        _binding = binding;
        _client = client;
    }

    public async Task RunAsync()
    {
        ProxyCounters counters = _binding.Counters;
        counters.Opened();
        EndPoint? clientEndPoint = SafeRemote(_client);
        try
        {
            _target = await DialAsync(clientEndPoint);
            if (_target is null)
            {
                Abort();
                return;
            }

            if (_binding.Options.ProxyProtocolV2 && clientEndPoint is IPEndPoint remote && _client.LocalEndPoint is IPEndPoint local)
            {
                await _target.SendAsync(ProxyProtocolV2.Header(remote, local, stream: true), SocketFlags.None, _binding.Stopping);
            }

            _client.NoDelay = true;
            _client.Blocking = false;
            _target.Blocking = false;
            (Task<PumpResult> up, Task<PumpResult> down, SplicePipe? pipeUp, SplicePipe? pipeDown) = StartPumps(counters);
            try
            {
                Task<PumpResult> first = await Task.WhenAny(up, down);
                if (first.Result.Failed || first.Result.Outcome == PumpOutcome.Canceled)
                {
                    // A reset or error on one side must reach the other as a reset, not as a clean close.
                    counters.Error(first == up ? (first.Result.Outcome == PumpOutcome.ReadFailed ? ProxyErrorKind.ClientFailed : ProxyErrorKind.TargetFailed)
                                               : (first.Result.Outcome == PumpOutcome.ReadFailed ? ProxyErrorKind.TargetFailed : ProxyErrorKind.ClientFailed));
                    Abort();
                }

                PumpResult[] results = await Task.WhenAll(up, down);
                if (results.Any(r => r.Failed) && Volatile.Read(ref _aborted) == 0)
                {
                    Abort();
                }

                ProxyLog.ConnectionEnded(_binding.Logger, clientEndPoint, _binding.Target.Endpoint, $"{results[0].Outcome}/{results[1].Outcome}");
            }
            finally
            {
                pipeUp?.Dispose();
                pipeDown?.Dispose();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            Abort();
        }
        finally
        {
            _client.Dispose();
            _target?.Dispose();
            counters.Closed();
        }
    }

    /// <summary>Resets both sides (SO_LINGER 0 then close): pending operations end and the peers see RST.</summary>
    public void Abort()
    {
        if (Interlocked.Exchange(ref _aborted, 1) != 0)
        {
            return;
        }

        Reset(_client);
        if (_target is { } t)
        {
            Reset(t);
        }
    }

    private (Task<PumpResult>, Task<PumpResult>, SplicePipe?, SplicePipe?) StartPumps(ProxyCounters counters)
    {
        CancellationToken ct = _binding.Stopping;
        if (_binding.ZeroCopy)
        {
            SplicePipe? a = SplicePipe.TryCreate(out int error);
            SplicePipe? b = a is null ? null : SplicePipe.TryCreate(out error);
            if (a is not null && b is not null)
            {
                return (TcpRelay.SpliceAsync(_client, _target!, a, counters.AddToTarget, ct), TcpRelay.SpliceAsync(_target!, _client, b, counters.AddToClient, ct), a, b);
            }

            a?.Dispose();
            _binding.ZeroCopy = false;
            ProxyLog.ZeroCopyUnavailable(_binding.Logger, $"pipe2: errno {error}");
        }

        return (TcpRelay.CopyAsync(_client, _target!, counters.AddToTarget, ct), TcpRelay.CopyAsync(_target!, _client, counters.AddToClient, ct), null, null);
    }

    private async Task<Socket?> DialAsync(EndPoint? client)
    {
        IPEndPoint ep = _binding.Target.Endpoint;
        Socket s;
        try
        {
            s = _binding.Target.Sockets.Create(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or Netlink.NetlinkException)
        {
            _binding.Counters.Error(ProxyErrorKind.DialFailed);
            ProxyLog.DialFailed(_binding.Logger, ep, client, e.Message);
            return null;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_binding.Stopping);
        timeout.CancelAfter(_binding.Options.DialTimeout);
        try
        {
            await s.ConnectAsync(ep, timeout.Token);
            s.NoDelay = true;
            return s;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            s.Dispose();
            _binding.Counters.Error(ProxyErrorKind.DialFailed);
            ProxyLog.DialFailed(_binding.Logger, ep, client, e is SocketException se ? se.SocketErrorCode.ToString() : "timed out");
            return null;
        }
    }

    private static void Reset(Socket s)
    {
        try
        {
            s.Close(0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    private static EndPoint? SafeRemote(Socket s)
    {
        try
        {
            return s.RemoteEndPoint;
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
