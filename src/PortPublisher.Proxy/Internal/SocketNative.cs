using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace PortPublisher.Proxy.Internal;

/// <summary>
/// Raw socket, epoll, pipe and splice calls for the TCP reactor. Every call returns a result or -errno (never throws), retries
/// EINTR, and works on fds the caller owns: System.Net.Sockets costs about twice the syscalls per proxied connection
/// (MSG_PEEK before each read, fcntl to make each socket non-blocking, poll after connect).
/// </summary>
internal static unsafe class SocketNative
{
    public const int EAGAIN = 11;
    public const int EINPROGRESS = 115;
    public const int EINTR = 4;
    public const int EINVAL = 22;
    public const int ECONNABORTED = 103;
    private const uint SPLICE_F_MOVE = 1;
    private const uint SPLICE_F_NONBLOCK = 2;
    private const int F_SETPIPE_SZ = 1031;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLEXCLUSIVE = 1u << 28;
    public const uint EPOLLET = 1u << 31;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    private const ushort AF_INET = 2;
    private const ushort AF_INET6 = 10;
    private const int SOCK_STREAM = 1;
    private const int SOCK_NONBLOCK = 0x800;
    private const int SOCK_CLOEXEC = 0x80000;
    private const int SOL_SOCKET = 1;
    private const int SO_ERROR = 4;
    private const int SO_LINGER = 13;
    private const int IPPROTO_TCP = 6;
    private const int TCP_NODELAY = 1;
    private const int SHUT_WR = 1;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int EPOLL_CLOEXEC = 0x80000;
    private const int EFD_NONBLOCK = 0x800;
    private const int EFD_CLOEXEC = 0x80000;
    private const int AT_FDCWD = -100;
    private const int FIONBIO = 0x5421;

    /// <summary>Bytes of the largest socket address (sockaddr_in6).</summary>
    public const int SockAddrSize = 28;

    /// <summary>A non-blocking, close-on-exec TCP socket with TCP_NODELAY, ready to connect; or -errno.</summary>
    public static int TcpSocket(AddressFamily family)
    {
        int fd = socket(family == AddressFamily.InterNetworkV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            return -errno;
        }

        int one = 1;
        _ = setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int));
        return fd;
    }

    /// <summary>Writes the sockaddr of <paramref name="ep"/> into <paramref name="buffer"/> (28 bytes); returns its length.</summary>
    public static int WriteSockAddr(IPEndPoint ep, Span<byte> buffer)
    {
        buffer.Clear();
        bool v6 = ep.AddressFamily == AddressFamily.InterNetworkV6;
        BinaryPrimitives.WriteUInt16LittleEndian(buffer, v6 ? AF_INET6 : AF_INET);
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)ep.Port);
        if (v6)
        {
            ep.Address.TryWriteBytes(buffer[8..], out _);
            BinaryPrimitives.WriteUInt32LittleEndian(buffer[24..], (uint)ep.Address.ScopeId);
            return 28;
        }

        ep.Address.TryWriteBytes(buffer[4..], out _);
        return 16;
    }

    /// <summary>The endpoint in a sockaddr_in or sockaddr_in6, or null for another family.</summary>
    public static IPEndPoint? ReadSockAddr(ReadOnlySpan<byte> buffer)
    {
        int port = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
        return BinaryPrimitives.ReadUInt16LittleEndian(buffer) switch
        {
            AF_INET => new IPEndPoint(new IPAddress(buffer.Slice(4, 4)), port),
            AF_INET6 => new IPEndPoint(new IPAddress(buffer.Slice(8, 16), BinaryPrimitives.ReadUInt32LittleEndian(buffer[24..])), port),
            _ => null,
        };
    }

    /// <summary>Whether a sockaddr is an IPv6 one holding an IPv4-mapped address (an IPv4 peer of a dual-stack socket).</summary>
    public static bool IsIPv4Mapped(ReadOnlySpan<byte> sockAddr) =>
        sockAddr.Length >= 24
        && BinaryPrimitives.ReadUInt16LittleEndian(sockAddr) == AF_INET6
        && !sockAddr.Slice(8, 10).ContainsAnyExcept((byte)0)
        && sockAddr[18] == 0xff && sockAddr[19] == 0xff;

    /// <summary>connect(2): 0, -EINPROGRESS (the usual answer of a non-blocking socket), or -errno.</summary>
    public static int Connect(int fd, ReadOnlySpan<byte> sockAddr)
    {
        fixed (byte* p = sockAddr)
        {
            int r;
            while ((r = connect(fd, (sockaddr*)p, (uint)sockAddr.Length)) < 0 && errno == EINTR)
            {
            }

            return r < 0 ? -errno : 0;
        }
    }

    /// <summary>accept4(2) of a non-blocking, close-on-exec socket; the peer's sockaddr goes to <paramref name="peer"/>.</summary>
    public static int Accept(int listenFd, Span<byte> peer)
    {
        fixed (byte* p = peer)
        {
            while (true)
            {
                socklen_t len = (uint)peer.Length;
                int fd = accept4(listenFd, (sockaddr*)p, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0)
                {
                    return fd;
                }

                int e = errno;
                if (e != EINTR)
                {
                    return -e;
                }
            }
        }
    }

    /// <summary>getsockname(2) into <paramref name="buffer"/>; 0 or -errno.</summary>
    public static int LocalAddress(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            socklen_t len = (uint)buffer.Length;
            return getsockname(fd, (sockaddr*)p, &len) < 0 ? -errno : 0;
        }
    }

    /// <summary>recv(2): bytes, 0 at EOF, or -errno.</summary>
    public static int Receive(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                long n = (long)recv(fd, p, (size_t)(ulong)buffer.Length, 0);
                if (n >= 0)
                {
                    return (int)n;
                }

                int e = errno;
                if (e != EINTR)
                {
                    return -e;
                }
            }
        }
    }

    /// <summary>send(2) without SIGPIPE: bytes sent (possibly fewer), or -errno.</summary>
    public static int Send(int fd, ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                long n = (long)send(fd, p, (size_t)(ulong)buffer.Length, MSG_NOSIGNAL);
                if (n >= 0)
                {
                    return (int)n;
                }

                int e = errno;
                if (e != EINTR)
                {
                    return -e;
                }
            }
        }
    }

    /// <summary>shutdown(fd, SHUT_WR): the peer reads EOF; 0 or -errno.</summary>
    public static int ShutdownWrite(int fd) => shutdown(fd, SHUT_WR) < 0 ? -errno : 0;

    /// <summary>
    /// Makes a bound TCP socket a non-blocking listener whose accepted sockets inherit TCP_NODELAY: listen(2),
    /// TCP_NODELAY, FIONBIO; three syscalls, where System.Net.Sockets takes six (and a Socket object) for the same.
    /// Returns 0 or -errno.
    /// </summary>
    public static int Listen(int fd, int backlog)
    {
        int one = 1;
        if (listen(fd, backlog) < 0 || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(int)) < 0 || ioctl(fd, FIONBIO, &one) < 0)
        {
            return -errno;
        }

        return 0;
    }

    /// <summary>The socket's pending error (SO_ERROR), which reading also clears; an errno or 0.</summary>
    public static int PendingError(int fd)
    {
        int err = 0;
        socklen_t len = sizeof(int);
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? errno : err;
    }

    /// <summary>Closes with SO_LINGER 0, so the peer gets RST instead of FIN.</summary>
    public static void CloseWithReset(int fd)
    {
        linger l = default;
        l.l_onoff = 1;
        l.l_linger = 0;
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, (uint)sizeof(linger));
        _ = close(fd);
    }

    public static void Close(int fd)
    {
        if (fd >= 0)
        {
            _ = close(fd);
        }
    }

    /// <summary>A non-blocking pipe of about <paramref name="size"/> bytes; false (with errno) where pipes cannot be made.</summary>
    public static bool TryCreatePipe(int size, out int readFd, out int writeFd, out int error)
    {
        int* fds = stackalloc int[2];
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
        {
            error = errno;
            readFd = writeFd = -1;
            return false;
        }

        readFd = fds[0];
        writeFd = fds[1];
        error = 0;
        _ = fcntl(writeFd, F_SETPIPE_SZ, size); // best effort: the default 64 KiB also works
        return true;
    }

    /// <summary>splice(2) without offsets, non-blocking: bytes moved, 0 at EOF, or -errno.</summary>
    public static int Splice(int fdIn, int fdOut, int length)
    {
        while (true)
        {
            long n = (long)splice(fdIn, null, fdOut, null, (size_t)(ulong)length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n >= 0)
            {
                return (int)n;
            }

            int e = errno;
            if (e != EINTR)
            {
                return -e;
            }
        }
    }

    public static int EpollCreate() => epoll_create1(EPOLL_CLOEXEC) is var fd and >= 0 ? fd : -errno;

    public static int EpollAdd(int epfd, int fd, uint events, ulong data)
    {
        epoll_event ev = default;
        ev.events = unchecked((int)events);
        ev.data.u64 = data;
        return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
    }

    public static int EpollDelete(int epfd, int fd)
    {
        epoll_event ev = default;
        return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev) < 0 ? -errno : 0;
    }

    /// <summary>epoll_wait(2) into <paramref name="events"/>; the count, 0 on timeout or EINTR, or -errno.</summary>
    public static int EpollWait(int epfd, epoll_event* events, int max, int timeoutMs)
    {
        int n = epoll_wait(epfd, events, max, timeoutMs);
        return n >= 0 ? n : errno == EINTR ? 0 : -errno;
    }

    /// <summary>
    /// A non-blocking eventfd (EFD_NONBLOCK): the loop drains it after every wake-up, also spurious ones, and a drain
    /// with nothing to read must say EAGAIN rather than block the loop.
    /// </summary>
    public static int EventFd() => eventfd(0u, EFD_NONBLOCK | EFD_CLOEXEC) is var fd and >= 0 ? fd : -errno;

    public static void EventFdSignal(int fd)
    {
        ulong one = 1;
        _ = write(fd, &one, 8);
    }

    /// <summary>Reads (and so zeroes) the eventfd's count: 8, or -EAGAIN when it was already 0.</summary>
    public static int EventFdDrain(int fd)
    {
        ulong value;
        while (true)
        {
            long n = (long)read(fd, &value, 8);
            if (n >= 0)
            {
                return (int)n;
            }

            int e = errno;
            if (e != EINTR)
            {
                return -e;
            }
        }
    }

    /// <summary>/dev/null opened for reading, close-on-exec: an fd that is no socket and cannot be polled; or -errno.</summary>
    public static int OpenNull()
    {
        ReadOnlySpan<byte> path = "/dev/null\0"u8;
        fixed (byte* p = path)
        {
            int fd = openat(AT_FDCWD, p, O_RDONLY | O_CLOEXEC, 0);
            return fd >= 0 ? fd : -errno;
        }
    }

    /// <summary>
    /// Makes the number <paramref name="fd"/> refer to what <paramref name="placeholder"/> refers to (dup3): the file
    /// <paramref name="fd"/> referred to is closed (the last reference: a socket's port is released, its epoll
    /// registrations are dropped), but the number stays taken until it is closed. 0 or -errno.
    /// </summary>
    public static int Supplant(int fd, int placeholder)
    {
        int r;
        while ((r = dup3(placeholder, fd, O_CLOEXEC)) < 0 && errno == EINTR)
        {
        }

        return r < 0 ? -errno : 0;
    }
}
