using System.Runtime.InteropServices;
using PortPublisher.Netlink.Interop;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace PortPublisher.Netlink;

/// <summary>
/// A raw AF_NETLINK socket. Created inside a chosen network namespace, it talks to that namespace's
/// kernel state for its whole life. Blocking sends; receives wait with poll(2) and a timeout.
/// </summary>
internal sealed class NetlinkSocket : IDisposable
{
    private readonly SafeNetlinkHandle _fd;

    private NetlinkSocket(SafeNetlinkHandle fd, uint portId)
    {
        _fd = fd;
        PortId = portId;
    }

    /// <summary>The port id the kernel assigned (nlmsg_pid of our requests as the kernel sees them).</summary>
    public uint PortId { get; }

    public static NetlinkSocket Open(int protocol, NetworkNamespace? ns = null) =>
        ns is null ? OpenHere(protocol) : ns.Run(() => OpenHere(protocol));

    private static unsafe NetlinkSocket OpenHere(int protocol)
    {
        int fd = socket(LinuxNetlink.AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
        if (fd < 0)
        {
            throw new NetlinkException(errno, "socket(AF_NETLINK)");
        }

        var handle = new SafeNetlinkHandle(fd);
        sockaddr_nl addr = default;
        addr.nl_family = LinuxNetlink.AF_NETLINK;
        if (bind(fd, (sockaddr*)&addr, (uint)sizeof(sockaddr_nl)) != 0)
        {
            int e = errno;
            handle.Dispose();
            throw new NetlinkException(e, "bind(AF_NETLINK)");
        }

        socklen_t len = (uint)sizeof(sockaddr_nl);
        if (getsockname(fd, (sockaddr*)&addr, &len) != 0)
        {
            int e = errno;
            handle.Dispose();
            throw new NetlinkException(e, "getsockname(AF_NETLINK)");
        }

        return new NetlinkSocket(handle, addr.nl_pid);
    }

    public unsafe void SetOption(int level, int name, int value)
    {
        if (!TrySetOption(level, name, value, out int e))
        {
            throw new NetlinkException(e, $"setsockopt({level}, {name}, {value})");
        }
    }

    public unsafe bool TrySetOption(int level, int name, int value, out int error)
    {
        error = 0;
        int rc = setsockopt(Fd, level, name, &value, sizeof(int));
        if (rc != 0)
        {
            error = errno;
            return false;
        }

        return true;
    }

    public unsafe int GetOption(int level, int name)
    {
        int value = 0;
        socklen_t len = sizeof(int);
        if (getsockopt(Fd, level, name, &value, &len) != 0)
        {
            throw new NetlinkException(errno, $"getsockopt({level}, {name})");
        }

        return value;
    }

    /// <summary>Sends one datagram to the kernel (one batch per datagram: the kernel drops anything after BATCH_END).</summary>
    public unsafe void Send(ReadOnlySpan<byte> datagram, string operation)
    {
        fixed (byte* p = datagram)
        {
            while (true)
            {
                ssize_t n = send(Fd, p, (size_t)(ulong)datagram.Length, 0);
                if ((long)n >= 0)
                {
                    if ((long)n != datagram.Length)
                    {
                        throw new NetlinkProtocolException($"{operation}: short netlink send ({(long)n} of {datagram.Length} bytes)");
                    }

                    return;
                }

                int e = errno;
                if (e != EINTR)
                {
                    throw new NetlinkException(e, $"{operation}: send of {datagram.Length} bytes");
                }
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for a datagram and reads it. Returns 0 on timeout.
    /// A datagram larger than the buffer is an error (MSG_TRUNC), never silently cut.
    /// </summary>
    /// <exception cref="NetlinkException">Errno ENOBUFS when the kernel dropped replies; the caller must re-read state.</exception>
    public unsafe int Receive(Span<byte> buffer, int timeoutMs)
    {
        pollfd pfd = default;
        pfd.fd = Fd;
        pfd.events = POLLIN;
        while (true)
        {
            int rc = poll(&pfd, 1, timeoutMs);
            if (rc == 0)
            {
                return 0;
            }

            if (rc < 0)
            {
                int e = errno;
                if (e == EINTR)
                {
                    continue;
                }

                throw new NetlinkException(e, "poll(netlink)");
            }

            fixed (byte* p = buffer)
            {
                ssize_t n = recv(Fd, p, (size_t)(ulong)buffer.Length, MSG_DONTWAIT | MSG_TRUNC);
                if ((long)n < 0)
                {
                    int e = errno;
                    if (e is 4 or 11)
                    {
                        continue; // EINTR, EAGAIN
                    }

                    throw new NetlinkException(e, "recv(netlink)");
                }

                if ((long)n > buffer.Length)
                {
                    throw new NetlinkProtocolException($"netlink datagram of {(long)n} bytes did not fit a {buffer.Length}-byte buffer");
                }

                return (int)(long)n;
            }
        }
    }

    public void Dispose() => _fd.Dispose();

    private int Fd => (int)_fd.DangerousGetHandle();

    private sealed class SafeNetlinkHandle : SafeHandle
    {
        public SafeNetlinkHandle(int fd)
            : base(-1, ownsHandle: true)
        {
            SetHandle(fd);
        }

        public override bool IsInvalid => handle == -1;

        protected override bool ReleaseHandle() => close((int)handle) == 0;
    }
}
