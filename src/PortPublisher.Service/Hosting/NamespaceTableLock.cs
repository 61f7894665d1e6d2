using System.Net.Sockets;
using PortPublisher.Core.Api;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// One service per nftables table per network namespace: two services with different state directories but the same
/// table would replace each other's tables. The lock is a listening socket on an abstract Unix address, which the
/// kernel keeps per network namespace and frees when the process dies (kill -9 included); one refused connects to it
/// and learns the holder's PID from SO_PEERCRED.
/// </summary>
internal sealed class NamespaceTableLock : IDisposable
{
    private readonly Socket _socket;

    private NamespaceTableLock(Socket socket) => _socket = socket;

    /// <exception cref="InvalidOperationException">Another process in this namespace holds the table (the message names its PID).</exception>
    public static NamespaceTableLock Acquire(string table)
    {
        var address = new UnixDomainSocketEndPoint(ServiceFootprint.TableLockAddress(table));
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Bind(address);
            socket.Listen(16);
            return new NamespaceTableLock(socket);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new InvalidOperationException($"another portpublisherd{Holder(address)} in this network namespace manages nftables table '{table}'; stop it, or give this one another --table");
        }
    }

    public void Dispose() => _socket.Dispose();

    private static string Holder(UnixDomainSocketEndPoint address)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(address); // the holder's backlog takes it without the holder doing anything
            return PeerCredentials.Describe(probe);
        }
        catch (SocketException)
        {
            return string.Empty;
        }
    }
}
