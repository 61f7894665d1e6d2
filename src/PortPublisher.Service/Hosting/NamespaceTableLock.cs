using System.Net.Sockets;
using PortPublisher.Core.Api;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// One service per nftables table per network namespace: two services with different state directories but the same
/// table would replace each other's tables. The lock is a listening socket on an abstract Unix address, which the
/// kernel keeps per network namespace and frees when the process dies (kill -9 included); one refused connects to it
/// and learns the holder's PID from SO_PEERCRED.
/// </summary>
/// <remarks>
/// Probes stay in the listener's accept queue even after they hang up, and once it is full a blocking connect waits for
/// room for ever (unix_stream_connect): so the holder accepts and closes them, and probes connect without blocking.
/// </remarks>
internal sealed class NamespaceTableLock : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();

    private NamespaceTableLock(Socket socket)
    {
        _socket = socket;
        _ = DrainAsync();
    }

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

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _stop.Dispose();
    }

    /// <summary>A non-blocking probe: the holder's PID, or empty when its queue is full or it is gone.</summary>
    internal static string Holder(UnixDomainSocketEndPoint address)
    {
        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
            probe.Connect(address); // the holder's backlog takes it without the holder doing anything
            return PeerCredentials.Describe(probe);
        }
        catch (SocketException)
        {
            return string.Empty;
        }
    }

    private async Task DrainAsync()
    {
        try
        {
            while (true)
            {
                using Socket probe = await _socket.AcceptAsync(_stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
            // Disposed: the lock is released.
        }
    }
}
