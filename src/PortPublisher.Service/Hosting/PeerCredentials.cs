using System.Globalization;
using System.Net.Sockets;

namespace PortPublisher.Service.Hosting;

/// <summary>Who is on the other end of a connected Unix socket (SO_PEERCRED), for messages that name a holder.</summary>
internal static class PeerCredentials
{
    // asm-generic/socket.h
    private const int SOL_SOCKET = 1;
    private const int SO_PEERCRED = 17;

    /// <summary><c> (PID n)</c>, or empty when the kernel does not say.</summary>
    public static string Describe(Socket connected)
    {
        byte[] cred = new byte[12]; // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        try
        {
            return connected.GetRawSocketOption(SOL_SOCKET, SO_PEERCRED, cred) >= 4 && BitConverter.ToInt32(cred, 0) is > 0 and int pid
                ? string.Create(CultureInfo.InvariantCulture, $" (PID {pid})")
                : string.Empty;
        }
        catch (SocketException)
        {
            return string.Empty;
        }
    }
}
