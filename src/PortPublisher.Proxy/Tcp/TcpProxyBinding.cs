using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// A TCP binding: one accept loop on an already-bound socket; each accepted client gets a connection dialed from
/// inside the target namespace. At most <see cref="ProxyBindingOptions.MaxConnections"/> relay at once; the rest
/// wait in the kernel's listen backlog.
/// </summary>
internal sealed class TcpProxyBinding : ProxyBinding
{
    private readonly Socket _listener;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<TcpConnection, Task> _connections = new();
    private readonly Task _acceptLoop;

    public TcpProxyBinding(Socket listener, ProxyTarget target, ProxyBindingOptions options, ILogger logger)
        : base(listener.LocalEndPoint!, target, options)
    {
        _listener = listener;
        _logger = logger;
        _slots = new SemaphoreSlim(options.MaxConnections, options.MaxConnections);
        _listener.Listen(4096); // the kernel caps it at net.core.somaxconn
        _acceptLoop = AcceptLoopAsync();
        ProxyLog.Started(_logger, Protocol, Listen, target.Endpoint);
    }

    public override string Protocol => "tcp";

    internal ILogger Logger => _logger;

    internal CancellationToken Stopping => _stop.Token;

    public override async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync();

        // Closing the listener frees the port at once (the accept loop ends with it).
        _listener.Dispose();
        foreach (TcpConnection c in _connections.Keys)
        {
            c.Abort();
        }

        await _acceptLoop;
        await Task.WhenAll(_connections.Values);
        ProxyLog.Stopped(_logger, Protocol, Listen, Target.Endpoint);
        _stop.Dispose();
        _slots.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await _slots.WaitAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                _slots.Release();
                return;
            }
            catch (SocketException e)
            {
                // EMFILE, ENOBUFS, a connection aborted before accept: count, back off briefly, go on.
                _slots.Release();
                Counters.Error(ProxyErrorKind.AcceptFailed);
                ProxyLog.AcceptFailed(_logger, Listen, e.SocketErrorCode.ToString());
                await Task.Delay(10, CancellationToken.None);
                continue;
            }

            var connection = new TcpConnection(this, client);
            _connections[connection] = RunAsync(connection);
        }
    }

    private async Task RunAsync(TcpConnection connection)
    {
        try
        {
            await connection.RunAsync();
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            _slots.Release();
        }
    }
}
