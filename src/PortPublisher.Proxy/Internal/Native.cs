using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace PortPublisher.Proxy.Internal;

/// <summary>What the UDP relay needs beyond System.Net.Sockets: sendmsg with a source address.</summary>
internal static unsafe class Native
{
    private const int EINTR = 4;
    private const int IPPROTO_IP = 0;
    private const int IPPROTO_IPV6 = 41;
    private const int IP_PKTINFO = 8;
    private const int IPV6_PKTINFO = 50;

    /// <summary>
    /// sendmsg(2) of one datagram to <paramref name="to"/> from the local address <paramref name="from"/> (IP_PKTINFO /
    /// IPV6_PKTINFO), so a socket bound to a wildcard address answers from the address the client sent to.
    /// Returns 0 or an errno. Never blocks: a full send buffer drops the datagram (EAGAIN), as UDP may.
    /// </summary>
    public static int SendFrom(SafeHandle socket, ReadOnlySpan<byte> payload, IPEndPoint to, IPAddress from)
    {
        bool v6 = to.AddressFamily == AddressFamily.InterNetworkV6;
        if (v6 && from.AddressFamily == AddressFamily.InterNetwork)
        {
            // An IPv4 client of a dual-stack socket: the kernel takes IPV6_PKTINFO with the mapped source (ip_cmsg_send).
            from = from.MapToIPv6();
        }

        Span<byte> name = stackalloc byte[28];
        name.Clear();
        int nameLen;
        BinaryPrimitives.WriteUInt16LittleEndian(name, (ushort)(v6 ? 10 : 2));
        BinaryPrimitives.WriteUInt16BigEndian(name[2..], (ushort)to.Port);
        if (v6)
        {
            to.Address.TryWriteBytes(name[8..], out _);
            BinaryPrimitives.WriteUInt32LittleEndian(name[24..], (uint)to.Address.ScopeId);
            nameLen = 28;
        }
        else
        {
            to.Address.TryWriteBytes(name[4..], out _);
            nameLen = 16;
        }

        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; } then in_pktinfo (12 B) / in6_pktinfo (20 B), 8-aligned.
        Span<byte> control = stackalloc byte[40];
        control.Clear();
        int dataLen = v6 ? 20 : 12;
        BinaryPrimitives.WriteUInt64LittleEndian(control, (ulong)(16 + dataLen));
        BinaryPrimitives.WriteInt32LittleEndian(control[8..], v6 ? IPPROTO_IPV6 : IPPROTO_IP);
        BinaryPrimitives.WriteInt32LittleEndian(control[12..], v6 ? IPV6_PKTINFO : IP_PKTINFO);
        if (v6)
        {
            from.TryWriteBytes(control[16..], out _); // ipi6_addr; ipi6_ifindex 0
        }
        else
        {
            from.TryWriteBytes(control[20..], out _); // ipi_ifindex 0, ipi_spec_dst = from, ipi_addr unused
        }

        int controlLen = v6 ? 40 : 32;
        bool added = false;
        socket.DangerousAddRef(ref added);
        try
        {
            fixed (byte* pName = name)
            fixed (byte* pControl = control)
            fixed (byte* pPayload = payload)
            {
                iovec iov = default;
                iov.iov_base = pPayload;
                iov.iov_len = (size_t)(ulong)payload.Length;
                msghdr msg = default;
                msg.msg_name = pName;
                msg.msg_namelen = (uint)nameLen;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                msg.msg_control = pControl;
                msg.msg_controllen = (uint)controlLen;
                while (true)
                {
                    long n = (long)sendmsg((int)socket.DangerousGetHandle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
                    if (n >= 0)
                    {
                        return 0;
                    }

                    int e = errno;
                    if (e != EINTR)
                    {
                        return e;
                    }
                }
            }
        }
        finally
        {
            if (added)
            {
                socket.DangerousRelease();
            }
        }
    }
}
