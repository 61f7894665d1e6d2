using System.Net;
using System.Net.Sockets;

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
            (Task<PumpResult> up, Task<PumpResult> down) = StartPumps(counters);
            Task<PumpResult> first = await Task.WhenAny(up, down);
            if (first.Result.Failed)
            {
                // A reset or error on one side must reach the other as a reset, not as a clean close.
                bool clientSide = (first == up) == (first.Result.Outcome == PumpOutcome.ReadFailed);
                counters.Error(clientSide ? ProxyErrorKind.ClientFailed : ProxyErrorKind.TargetFailed);
                Abort();
            }
            else if (first.Result.Outcome == PumpOutcome.Canceled)
            {
                Abort(); // the binding is stopping
            }

            PumpResult[] results = await Task.WhenAll(up, down);
            if (results.Any(r => r.Failed) && Volatile.Read(ref _aborted) == 0)
            {
                Abort();
            }

            ProxyLog.ConnectionEnded(_binding.Logger, clientEndPoint, _binding.Target.Endpoint, results[0].Outcome, results[1].Outcome);
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

    private (Task<PumpResult> Up, Task<PumpResult> Down) StartPumps(ProxyCounters counters)
    {
        CancellationToken ct = _binding.Stopping;
        return _binding.Options.ZeroCopy
            ? (TcpRelay.SpliceAsync(_client, _target!, counters.AddToTarget, ct), TcpRelay.SpliceAsync(_target!, _client, counters.AddToClient, ct))
            : (TcpRelay.CopyAsync(_client, _target!, counters.AddToTarget, ct), TcpRelay.CopyAsync(_target!, _client, counters.AddToClient, ct));
    }

    private async Task<Socket?> DialAsync(EndPoint? client)
    {
        IPEndPoint ep = _binding.Target.Endpoint;
        Socket s;
        try
        {
            s = await _binding.Target.Sockets.CreateAsync(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or Netlink.NetlinkException)
        {
            _binding.Counters.Error(ProxyErrorKind.DialFailed);
            ProxyLog.DialFailed(_binding.Logger, ep, client, e.Message);
            return null;
        }

        try
        {
            // The dial timeout is the kernel's: a capped SYN retry count costs nothing per connection, unlike a timer.
            s.SetRawSocketOption(6 /* IPPROTO_TCP */, 7 /* TCP_SYNCNT */, BitConverter.GetBytes(SynRetries(_binding.Options.DialTimeout)));
            await s.ConnectAsync(ep, _binding.Stopping);
            s.NoDelay = true;
            return s;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            s.Dispose();
            _binding.Counters.Error(ProxyErrorKind.DialFailed);
            ProxyLog.DialFailed(_binding.Logger, ep, client, e is SocketException se ? se.SocketErrorCode.ToString() : "stopping");
            return null;
        }
    }

    /// <summary>SYN retries whose backoff (1 s, 2 s, 4 s, …: 2^(n+1) - 1 s in all) fits the timeout; at least one.</summary>
    internal static int SynRetries(TimeSpan timeout)
    {
        int n = 1;
        while (n < 10 && Math.Pow(2, n + 2) - 1 <= timeout.TotalSeconds)
        {
            n++;
        }

        return n;
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
