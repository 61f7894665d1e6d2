using System.Buffers.Binary;
using System.Net.Sockets;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// Fields of the kernel's struct tcp_info (include/uapi/linux/tcp.h) that let a test see, as an event, what the
/// kernel did: a listener's accept queue, a sender's zero-window probes.
/// </summary>
internal static unsafe class TcpInfo
{
    private const int IPPROTO_TCP = 6;
    private const int TCP_INFO = 11;

    /// <summary>
    /// For a listening socket, tcpi_unacked is its accept queue's length (tcp_get_info: sk_ack_backlog): connections
    /// the kernel completed that nobody has accepted.
    /// </summary>
    public static int AcceptQueueLength(int listenFd) => (int)BinaryPrimitives.ReadUInt32LittleEndian(Read(listenFd).AsSpan(24));

    /// <summary>
    /// tcpi_probes: zero-window probes sent since the peer's window last opened. Above 0 only when the peer advertised
    /// a zero window for at least one retransmission timeout, i.e. it stopped reading while this side had data.
    /// </summary>
    public static int ZeroWindowProbes(Socket s) => Read((int)s.SafeHandle.DangerousGetHandle())[3];

    private static byte[] Read(int fd)
    {
        byte[] info = new byte[104];
        fixed (byte* p = info)
        {
            Tmds.Linux.socklen_t len = (uint)info.Length;
            if (Tmds.Linux.LibC.getsockopt(fd, IPPROTO_TCP, TCP_INFO, p, &len) != 0)
            {
                throw new SocketException(Tmds.Linux.LibC.errno);
            }
        }

        return info;
    }
}
