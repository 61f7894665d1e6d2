using System.Net;
using System.Net.Sockets;
using System.Text;

using PortPublisher.Netlink;

namespace PortPublisher.TestKit;

/// <summary>
/// Test servers and clients whose sockets are created inside a namespace (a socket keeps the namespace it was
/// created in). Servers answer "peer=ADDRESS" so a test can see whether the client's address survived NAT.
/// </summary>
public sealed class Peer : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _cts = new();

    private Peer(Socket socket)
    {
        _socket = socket;
    }

    public int Accepted { get; private set; }

    /// <summary>A TCP server; by default each connection gets "peer=ADDRESS" and is closed, else <paramref name="handler"/> runs.</summary>
    /// <param name="backlog">listen(2)'s backlog: raise it for bursts of connections (the kernel caps it at somaxconn).</param>
    public static Peer TcpServer(NetworkNamespace ns, string address, int port, Func<Socket, Task>? handler = null, int backlog = 64)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        Socket s = ns.Run(() =>
        {
            var sock = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            sock.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            sock.Bind(ep);
            sock.Listen(backlog);
            return sock;
        });
        var peer = new Peer(s);
        _ = peer.AcceptLoop(handler);
        return peer;
    }

    public static Peer UdpServer(NetworkNamespace ns, string address, int port)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        Socket s = ns.Run(() =>
        {
            var sock = new Socket(ep.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            sock.Bind(ep);
            return sock;
        });
        var peer = new Peer(s);
        _ = peer.UdpLoop();
        return peer;
    }

    /// <summary>Connects from inside <paramref name="ns"/> and returns the server's answer; throws SocketException on refusal or timeout.</summary>
    public static async Task<string> AskTcp(NetworkNamespace ns, string address, int port, int timeoutMs = 3000)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        using Socket s = ns.Run(() => new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            await s.ConnectAsync(ep, cts.Token);
            var buffer = new byte[256];
            int total = 0, n;
            while ((n = await s.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cts.Token)) > 0)
            {
                total += n;
            }

            return Encoding.ASCII.GetString(buffer, 0, total).Trim();
        }
        catch (OperationCanceledException)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }

    public static async Task<string> AskUdp(NetworkNamespace ns, string address, int port, int timeoutMs = 3000)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        using Socket s = ns.Run(() => new Socket(ep.AddressFamily, SocketType.Dgram, ProtocolType.Udp));
        await s.SendToAsync("hello"u8.ToArray(), ep);
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(timeoutMs);
        try
        {
            int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, n).Trim();
        }
        catch (OperationCanceledException)
        {
            throw new SocketException((int)SocketError.TimedOut);
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _socket.Dispose();
        _cts.Dispose();
    }

    private async Task AcceptLoop(Func<Socket, Task>? handler)
    {
        while (!_cts.IsCancellationRequested)
        {
            Socket c;
            try
            {
                c = await _socket.AcceptAsync(_cts.Token);
            }
            catch (Exception)
            {
                return;
            }

            Accepted++;
            _ = Serve(c, handler);
        }
    }

    private static async Task Serve(Socket c, Func<Socket, Task>? handler)
    {
        using (c)
        {
            try
            {
                if (handler is not null)
                {
                    await handler(c);
                    return;
                }

                await c.SendAsync(Encoding.ASCII.GetBytes($"peer={((IPEndPoint)c.RemoteEndPoint!).Address}\n"));
                c.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
            }
        }
    }

    private async Task UdpLoop()
    {
        var buffer = new byte[2048];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_cts.IsCancellationRequested)
        {
            try
            {
                SocketReceiveFromResult r = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, _cts.Token);
                Accepted++;
                var remote = (IPEndPoint)r.RemoteEndPoint;
                await _socket.SendToAsync(Encoding.ASCII.GetBytes($"peer={remote.Address}\n"), remote);
            }
            catch (Exception)
            {
                return;
            }
        }
    }
}
