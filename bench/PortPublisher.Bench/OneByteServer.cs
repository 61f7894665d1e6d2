using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink;

namespace PortPublisher.Bench;

/// <summary>
/// The benches' connection-rate backend: a TCP listener inside a namespace that answers each connection with one byte
/// and closes, until <see cref="CancellationToken"/> is cancelled or the listener is disposed.
/// </summary>
internal static class OneByteServer
{
    public static Socket Start(NetworkNamespace ns, IPEndPoint endPoint, int backlog, CancellationToken ct)
    {
        Socket s = ns.Run(() =>
        {
            var l = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            l.Bind(endPoint);
            l.Listen(backlog);
            return l;
        });
        _ = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    using Socket a = await s.AcceptAsync(ct);
                    await a.SendAsync(new byte[] { 1 });
                    a.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    return;
                }
            }
        }, ct);
        return s;
    }
}
