using System.Net;
using System.Net.Sockets;

namespace PortPublisher.Proxy.Tests;

/// <summary>A TCP test backend with a per-connection handler; its socket can be created in any namespace.</summary>
internal sealed class Backend : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly Func<Socket, Task> _handler;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Task> _tasks = [];
    private readonly Task _loop;

    public Backend(Func<Socket, Task> handler, IPEndPoint? bind = null, Func<Socket>? create = null)
    {
        _handler = handler;
        bind ??= new IPEndPoint(IPAddress.Loopback, 0);
        _listener = create?.Invoke() ?? new Socket(bind.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(bind);
        _listener.Listen(512);
        _loop = Loop();
    }

    public IPEndPoint EndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    public int Accepted { get; private set; }

    /// <summary>Echoes everything back, then closes its sending side when the client does.</summary>
    public static Func<Socket, Task> Echo => async s =>
    {
        var buffer = new byte[128 * 1024];
        int n;
        while ((n = await s.ReceiveAsync(buffer)) > 0)
        {
            await s.SendAsync(buffer.AsMemory(0, n));
        }

        s.Shutdown(SocketShutdown.Send);
    };

    private async Task Loop()
    {
        while (true)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync(_cts.Token);
            }
            catch (Exception)
            {
                return;
            }

            Accepted++;
            lock (_tasks)
            {
                _tasks.Add(Serve(s));
            }
        }
    }

    private async Task Serve(Socket s)
    {
        using (s)
        {
            try
            {
                await _handler(s);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cts.CancelAsync();
        _listener.Dispose();
        await _loop;
        Task[] tasks;
        lock (_tasks)
        {
            tasks = [.. _tasks];
        }

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(10));
        _cts.Dispose();
    }
}
