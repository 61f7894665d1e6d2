using System.Runtime.InteropServices;
using Tmds.Linux;

namespace PortPublisher.Proxy.Internal;

/// <summary>
/// Up to <see cref="Capacity"/> datagrams moved with one recvmmsg(2) and one sendmmsg(2) each way, for the UDP relay on
/// an event loop: one per loop (a loop runs one handler at a time), in native memory. Each slot holds a datagram of
/// any size (64 KiB), its peer's sockaddr and its control messages; pages the kernel never writes to are never
/// resident, so small datagrams cost a page per slot, not 64 KiB. Replies are not sent by the handler that read them:
/// they wait in their slots (<see cref="QueueReplies"/>) until the loop's pass is over (<see cref="Flush"/>), so the
/// replies of every flow that had one in a pass leave in one sendmmsg per listener, not one per flow. What
/// <see cref="Receive"/> read stays valid until the next call; it never touches slots holding queued replies.
/// </summary>
internal sealed unsafe partial class DatagramBatch : IDisposable
{
    /// <summary>Datagrams per syscall: enough that a busy socket is drained in a few calls, few enough to stay fair to other fds.</summary>
    public const int Capacity = 32;

    /// <summary>Bytes per slot: more than the largest UDP payload (65,507 over IPv4, 65,527 over IPv6).</summary>
    public const int SlotSize = 65536;

    private const int NameSize = 32; // sockaddr_in6 (28), rounded
    private const int ControlSize = 64; // one cmsghdr (16) with in6_pktinfo (20), rounded; room for another
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const int ENOBUFS = 105;
    private const int MSG_DONTWAIT = 0x40;
    private const int MSG_NOSIGNAL = 0x4000;
    private const int IPPROTO_IP = 0;
    private const int IPPROTO_IPV6 = 41;
    private const int IP_PKTINFO = 8;
    private const int IPV6_PKTINFO = 50;
    private const int SOL_UDP = 17;
    private const int UDP_SEGMENT = 103;
    private const int EINVAL = 22;
    private const int EIO = 5;
    private const int ENOPROTOOPT = 92;
    private const int EOPNOTSUPP = 95;
    private const int EMSGSIZE = 90;

    /// <summary>UDP_MAX_SEGMENTS of kernels before 5.x (128 since); a batch holds fewer anyway.</summary>
    private const int MaxSegments = 64;

    /// <summary>Payload one GSO send may carry: the largest UDP datagram over IPv6 (65,527) less room for the kernel's checks.</summary>
    private const int MaxGsoBytes = 65000;

    private readonly byte* _data;
    private readonly byte* _names;
    private readonly byte* _controls;
    private readonly iovec* _iov;
    private readonly iovec* _sendIov;
    private readonly iovec* _gsoIov;
    private readonly byte* _gsoControl;
    private readonly mmsghdr* _received;
    private readonly mmsghdr* _send;
    private readonly (int Fd, ProxyCounters? Counters, GsoPath? Path, int Run)[] _queued = new (int, ProxyCounters?, GsoPath?, int)[Capacity];
    private readonly (int First, int Count)[] _messages = new (int, int)[Capacity]; // a message of more than one reply is a GSO run
    private int _used;
    private int _disposed;

    public DatagramBatch()
    {
        _data = (byte*)NativeMemory.Alloc(Capacity * (nuint)SlotSize);
        _names = (byte*)NativeMemory.AllocZeroed(Capacity * (nuint)NameSize);
        _controls = (byte*)NativeMemory.AllocZeroed(Capacity * (nuint)ControlSize);
        _iov = (iovec*)NativeMemory.AllocZeroed(Capacity, (nuint)sizeof(iovec));
        _sendIov = (iovec*)NativeMemory.AllocZeroed(Capacity, (nuint)sizeof(iovec));
        _gsoIov = (iovec*)NativeMemory.AllocZeroed(Capacity, (nuint)sizeof(iovec));
        _gsoControl = (byte*)NativeMemory.AllocZeroed((nuint)GsoControlSize);
        _received = (mmsghdr*)NativeMemory.AllocZeroed(Capacity, (nuint)sizeof(mmsghdr));
        _send = (mmsghdr*)NativeMemory.AllocZeroed(Capacity, (nuint)sizeof(mmsghdr));
        for (int i = 0; i < Capacity; i++)
        {
            _iov[i].iov_base = _data + (i * (nint)SlotSize);
            _iov[i].iov_len = SlotSize;
        }
    }

    /// <summary>Slots free for a receive: those not holding queued replies.</summary>
    public int Free => Capacity - _used;

    /// <summary>The first slot the next <see cref="Receive"/> fills.</summary>
    public int First => _used;

    public bool HasReplies => _used > 0;

    /// <summary>Datagrams that left in a GSO send, several per syscall and per skb (tests; loop thread).</summary>
    internal long GsoDatagrams { get; private set; }

    /// <summary>GSO sends a path refused, after which its flow sent datagram by datagram (tests; loop thread).</summary>
    internal long GsoRefused { get; private set; }

    /// <summary>CMSG_SPACE(sizeof(uint16_t)): the header (16) and the segment size, 8-aligned.</summary>
    private static int GsoControlSize => sizeof(cmsghdr) + 8;

    /// <summary>
    /// recvmmsg(2) without waiting: up to <see cref="Free"/> datagrams into the free slots (from <see cref="First"/>
    /// on), with each sender's address when <paramref name="addresses"/> and its destination address (IP_PKTINFO /
    /// IPV6_PKTINFO, if the socket asks for it) when <paramref name="destinations"/>. Returns how many, or -errno
    /// (-EAGAIN: none was waiting).
    /// </summary>
    public int Receive(int fd, bool addresses, bool destinations)
    {
        int first = _used, count = Capacity - _used;
        if (count == 0)
        {
            return -EAGAIN; // no room; the caller flushes first
        }

        for (int i = first; i < Capacity; i++)
        {
            ref msghdr h = ref _received[i].msg_hdr;
            h.msg_name = addresses ? _names + (i * NameSize) : null;
            h.msg_namelen = addresses ? (uint)NameSize : 0;
            h.msg_iov = &_iov[i];
            h.msg_iovlen = 1;
            h.msg_control = destinations ? _controls + (i * ControlSize) : null;
            h.msg_controllen = destinations ? (uint)ControlSize : 0;
            h.msg_flags = 0;
        }

        while (true)
        {
            int n = recvmmsg(fd, _received + first, (uint)count, MSG_DONTWAIT, null);
            if (n >= 0)
            {
                return n;
            }

            int e = Marshal.GetLastPInvokeError();
            if (e != EINTR)
            {
                return -e;
            }
        }
    }

    /// <summary>Bytes of received datagram <paramref name="i"/>.</summary>
    public int Length(int i) => (int)_received[i].msg_len;

    /// <summary>Received datagram <paramref name="i"/>.</summary>
    public ReadOnlySpan<byte> Data(int i) => new(_data + (i * (nint)SlotSize), Length(i));

    /// <summary>The sockaddr datagram <paramref name="i"/> came from.</summary>
    public ReadOnlySpan<byte> Source(int i) => new(_names + (i * NameSize), (int)Math.Min(_received[i].msg_hdr.msg_namelen, (uint)NameSize));

    /// <summary>
    /// The address datagram <paramref name="i"/> was sent to (4 or 16 bytes), from its IP_PKTINFO / IPV6_PKTINFO
    /// control message; empty when it carried none.
    /// </summary>
    public ReadOnlySpan<byte> Destination(int i)
    {
        byte* c = (byte*)_received[i].msg_hdr.msg_control;
        long left = (long)(ulong)_received[i].msg_hdr.msg_controllen;
        while (c is not null && left >= sizeof(cmsghdr))
        {
            var h = (cmsghdr*)c;
            long len = (long)(ulong)h->cmsg_len;
            if (len < sizeof(cmsghdr) || len > left)
            {
                break;
            }

            byte* data = c + sizeof(cmsghdr);
            if (h->cmsg_level == IPPROTO_IP && h->cmsg_type == IP_PKTINFO && len >= sizeof(cmsghdr) + 12)
            {
                return new ReadOnlySpan<byte>(data + 8, 4); // in_pktinfo { ipi_ifindex, ipi_spec_dst, ipi_addr }: the header's destination
            }

            if (h->cmsg_level == IPPROTO_IPV6 && h->cmsg_type == IPV6_PKTINFO && len >= sizeof(cmsghdr) + 20)
            {
                return new ReadOnlySpan<byte>(data, 16); // in6_pktinfo { ipi6_addr, ipi6_ifindex }
            }

            long step = (len + 7) & ~7L;
            c += step;
            left -= step;
        }

        return [];
    }

    /// <summary>
    /// sendmmsg(2) of the received datagrams <paramref name="slots"/> on a connected socket, without waiting. Returns
    /// how many left (the rest met a full send buffer or an error: dropped, as UDP may), or -errno for none.
    /// </summary>
    /// <remarks>
    /// Datagrams of one size (the last may be shorter), as a bulk sender sends them, leave in one sendmsg with
    /// UDP_SEGMENT (GSO): one skb through the stack instead of one per datagram, cut back into the same datagrams
    /// before anyone sees them. <paramref name="path"/> is the flow's memory of what its path refused: a kernel
    /// without UDP_SEGMENT (EINVAL), a route without checksum offload (EIO) or a segment above its MTU (EMSGSIZE; the
    /// batch is at most <see cref="MaxGsoBytes"/>, so it means nothing else here) is told once, and those datagrams
    /// go one by one from then on, fragmenting as they always could.
    /// </remarks>
    public int SendConnected(int fd, ReadOnlySpan<int> slots, GsoPath path)
    {
        if (slots.Length > 1 && GsoSize(slots) is int size and > 0 && path.Allows(size))
        {
            int r = SendSegmented(fd, slots, size);
            if (r >= 0 || !IsGsoRefusal(-r))
            {
                return r;
            }

            path.Refuse(size, -r);
            GsoRefused++;
        }

        for (int k = 0; k < slots.Length; k++)
        {
            _send[k].msg_hdr = default;
            _send[k].msg_hdr.msg_iov = Received(slots[k]);
            _send[k].msg_hdr.msg_iovlen = 1;
        }

        return Send(fd, slots.Length);
    }

    /// <summary>The segment size if <paramref name="slots"/> can leave as one GSO send (every datagram that size but the last, which may be shorter), else 0.</summary>
    private int GsoSize(ReadOnlySpan<int> slots) => OneSizeRun(slots) == slots.Length ? Length(slots[0]) : 0;

    /// <summary>
    /// How many of <paramref name="slots"/>, from the first, UDP GSO can cut back into the same datagrams: each the
    /// first's size but the last (shorter or equal; a shorter one ends the run), none empty, at most
    /// <see cref="MaxSegments"/> of them and <see cref="MaxGsoBytes"/> in all. At least 1.
    /// </summary>
    private int OneSizeRun(ReadOnlySpan<int> slots)
    {
        int size = Length(slots[0]);
        long total = size;
        int run = 1;
        while (size > 0 && run < slots.Length && run < MaxSegments && Length(slots[run - 1]) == size)
        {
            int len = Length(slots[run]);
            if (len == 0 || len > size || total + len > MaxGsoBytes)
            {
                break;
            }

            total += len;
            run++;
        }

        return run;
    }

    /// <summary>One sendmsg of every datagram of <paramref name="slots"/> with UDP_SEGMENT; all of them or -errno.</summary>
    private int SendSegmented(int fd, ReadOnlySpan<int> slots, int size)
    {
        for (int k = 0; k < slots.Length; k++)
        {
            _gsoIov[k].iov_base = _iov[slots[k]].iov_base;
            _gsoIov[k].iov_len = (size_t)Length(slots[k]);
        }

        var h = (cmsghdr*)_gsoControl;
        h->cmsg_len = (uint)(sizeof(cmsghdr) + sizeof(ushort));
        h->cmsg_level = SOL_UDP;
        h->cmsg_type = UDP_SEGMENT;
        *(ushort*)(_gsoControl + sizeof(cmsghdr)) = (ushort)size;
        msghdr m = default;
        m.msg_iov = _gsoIov;
        m.msg_iovlen = slots.Length;
        m.msg_control = _gsoControl;
        m.msg_controllen = (uint)GsoControlSize;
        while (true)
        {
            long n = (long)sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0)
            {
                GsoDatagrams += slots.Length;
                return slots.Length;
            }

            int e = Marshal.GetLastPInvokeError();
            if (e != EINTR)
            {
                return -e;
            }
        }
    }

    /// <summary>
    /// Receives (recvmmsg, without waiting) what <paramref name="fd"/> has, up to the free slots, and keeps it there as
    /// replies for <paramref name="listenerFd"/> to send to <paramref name="name"/> with <paramref name="control"/>
    /// (both copied into the slot) at the next <see cref="Flush"/>, counted in <paramref name="counters"/>;
    /// <paramref name="path"/> is the client's path, which may refuse GSO. Returns how many, or -errno.
    /// </summary>
    public int QueueReplies(int fd, int listenerFd, ReadOnlySpan<byte> name, ReadOnlySpan<byte> control, GsoPath path, ProxyCounters counters)
    {
        int first = _used;
        int n = Receive(fd, addresses: false, destinations: false);
        for (int k = 0; k < n; k++)
        {
            int slot = first + k;
            name[..Math.Min(name.Length, NameSize)].CopyTo(new Span<byte>(_names + (slot * NameSize), NameSize));
            control[..Math.Min(control.Length, ControlSize)].CopyTo(new Span<byte>(_controls + (slot * ControlSize), ControlSize));
            _received[slot].msg_hdr.msg_namelen = (uint)Math.Min(name.Length, NameSize);
            _received[slot].msg_hdr.msg_controllen = (uint)Math.Min(control.Length, ControlSize);
            _queued[slot] = (listenerFd, counters, path, first); // one receive, one client: a run GSO may join
        }

        _used = first + Math.Max(n, 0);
        return n;
    }

    /// <summary>
    /// Sends every queued reply: one sendmmsg(2) per listener, without waiting. A full send buffer or device queue
    /// drops what is left (counted, as UDP may); an error of one client's destination (EPERM from a firewall, a route
    /// gone) drops that client's message only. A run of one client's replies read by one receive, of one size but the
    /// last (which may be shorter), leaves as one message with UDP_SEGMENT beside its source-address control message,
    /// as <see cref="SendConnected"/> sends upstream; a size the client's path refuses is remembered
    /// (<see cref="GsoPath"/>), and that run leaves datagram by datagram.
    /// </summary>
    public void Flush()
    {
        int done = 0;
        Span<int> slots = stackalloc int[Capacity];
        while (done < _used)
        {
            // The first unsent slot's listener, and every later slot of the same listener, in order.
            int fd = _queued[done].Fd;
            int count = 0;
            for (int slot = done; slot < _used; slot++)
            {
                if (_queued[slot].Counters is not null && _queued[slot].Fd == fd)
                {
                    slots[count++] = slot;
                }
            }

            int messages = 0;
            for (int k = 0; k < count;)
            {
                int run = GsoRun(slots[k..count]);
                Reply(messages, slots[k], run);
                _messages[messages++] = (k, run);
                k += run;
            }

            int m = 0;
            while (m < messages)
            {
                int sent = SendFrom(fd, m, messages - m);
                if (sent > 0)
                {
                    for (int i = m; i < m + sent; i++)
                    {
                        Account(slots, _messages[i], sent: true);
                    }

                    m += sent; // stopped short: the next call says why
                    continue;
                }

                int errno = -sent;
                if (errno is EAGAIN or ENOBUFS)
                {
                    break; // the listener's send buffer or the device queue is full: the rest is dropped, as UDP may
                }

                (int first, int run) = _messages[m];
                if (run > 1 && IsGsoRefusal(errno))
                {
                    GsoPath path = _queued[slots[first]].Path!;
                    int size = Length(slots[first]);
                    if (path.Allows(size))
                    {
                        path.Refuse(size, errno); // a later run of this client in this flush was built before it knew
                        GsoRefused++;
                    }

                    for (int k = first; k < first + run; k++)
                    {
                        Reply(m, slots[k], 1);
                        Account(slots, (k, 1), sent: SendFrom(fd, m, 1) == 1);
                    }
                }
                else
                {
                    // This client's own failure (a route gone, a firewall's EPERM, the address it sent to removed):
                    // its message is dropped, the other clients' replies still go.
                    Account(slots, _messages[m], sent: false);
                }

                m++;
            }

            for (; m < messages; m++)
            {
                Account(slots, _messages[m], sent: false);
            }

            for (int k = 0; k < count; k++)
            {
                _queued[slots[k]] = default;
            }

            while (done < _used && _queued[done].Counters is null)
            {
                done++;
            }
        }

        _used = 0;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        NativeMemory.Free(_data);
        NativeMemory.Free(_names);
        NativeMemory.Free(_controls);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_sendIov);
        NativeMemory.Free(_gsoIov);
        NativeMemory.Free(_gsoControl);
        NativeMemory.Free(_received);
        NativeMemory.Free(_send);
    }

    /// <summary>
    /// The source-address control message a wildcard listener's replies carry (<paramref name="from"/>: 4 or 16 bytes),
    /// so they leave from the address the client sent to: IP_PKTINFO with ipi_spec_dst, or IPV6_PKTINFO with ipi6_addr.
    /// </summary>
    public static byte[] SourceControl(ReadOnlySpan<byte> from)
    {
        bool v6 = from.Length == 16;
        int dataLen = v6 ? 20 : 12;
        var control = new byte[v6 ? 40 : 32]; // CMSG_SPACE: the header (16) and the data, 8-aligned
        fixed (byte* c = control)
        {
            var h = (cmsghdr*)c;
            h->cmsg_len = (uint)(sizeof(cmsghdr) + dataLen);
            h->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
            h->cmsg_type = v6 ? IPV6_PKTINFO : IP_PKTINFO;
        }

        from.CopyTo(control.AsSpan(sizeof(cmsghdr) + (v6 ? 0 : 4))); // ipi_ifindex 0 then ipi_spec_dst; ipi6_addr first
        return control;
    }

    private static bool IsGsoRefusal(int errno) => errno is EINVAL or EIO or EMSGSIZE or ENOPROTOOPT or EOPNOTSUPP;

    /// <summary>
    /// How many of <paramref name="slots"/> (from the first) can leave as one GSO message: consecutive slots of one
    /// receive for a client whose path has not refused GSO, every one the first's size but the last (shorter or
    /// equal), within the segment and byte limits, and with room beside the slot's control message for UDP_SEGMENT.
    /// </summary>
    private int GsoRun(ReadOnlySpan<int> slots)
    {
        int head = slots[0];
        (_, _, GsoPath? path, int receive) = _queued[head];
        if (path is null || !path.Allows(Length(head)) || (long)(ulong)_received[head].msg_hdr.msg_controllen + GsoControlSize > ControlSize)
        {
            return 1;
        }

        int same = 1;
        while (same < slots.Length && slots[same] == head + same && _queued[slots[same]].Run == receive)
        {
            same++;
        }

        return OneSizeRun(slots[..same]);
    }

    /// <summary>
    /// Message <paramref name="message"/> of the send array: the <paramref name="run"/> replies from slot
    /// <paramref name="slot"/> on (their iovecs are consecutive), to the first's client with its control message and,
    /// for a run, UDP_SEGMENT of the first's size after it in the slot's control space.
    /// </summary>
    private void Reply(int message, int slot, int run)
    {
        ref msghdr h = ref _send[message].msg_hdr;
        h = default;
        h.msg_name = _names + (slot * NameSize);
        h.msg_namelen = _received[slot].msg_hdr.msg_namelen;
        for (int k = 0; k < run; k++)
        {
            Received(slot + k);
        }

        h.msg_iov = &_sendIov[slot];
        h.msg_iovlen = run;
        uint controlLen = (uint)(ulong)_received[slot].msg_hdr.msg_controllen;
        byte* control = _controls + (slot * ControlSize);
        if (run > 1)
        {
            var g = (cmsghdr*)(control + controlLen); // controlLen is a CMSG_SPACE, so 8-aligned
            g->cmsg_len = (uint)(sizeof(cmsghdr) + sizeof(ushort));
            g->cmsg_level = SOL_UDP;
            g->cmsg_type = UDP_SEGMENT;
            *(ushort*)((byte*)g + sizeof(cmsghdr)) = (ushort)Length(slot);
            controlLen += (uint)GsoControlSize;
        }

        h.msg_control = controlLen == 0 ? null : control;
        h.msg_controllen = controlLen;
    }

    /// <summary>Counts message <paramref name="m"/>'s replies as delivered to the client or dropped.</summary>
    private void Account(ReadOnlySpan<int> slots, (int First, int Count) m, bool sent)
    {
        for (int k = m.First; k < m.First + m.Count; k++)
        {
            int slot = slots[k];
            ProxyCounters counters = _queued[slot].Counters!;
            if (sent)
            {
                counters.AddToClient(_received[slot].msg_len);
            }
            else
            {
                counters.Error(ProxyErrorKind.SendFailed);
            }
        }

        if (sent && m.Count > 1)
        {
            GsoDatagrams += m.Count;
        }
    }

    /// <summary>
    /// The received slot's data as an iovec of the datagram's length (the receive iovecs keep the slot's full size,
    /// which the next recvmmsg needs).
    /// </summary>
    private iovec* Received(int slot)
    {
        _sendIov[slot].iov_base = _iov[slot].iov_base;
        _sendIov[slot].iov_len = (size_t)_received[slot].msg_len;
        return &_sendIov[slot];
    }

    private int Send(int fd, int count) => SendFrom(fd, 0, count);

    /// <summary>sendmmsg(2) of messages <paramref name="first"/> on of the send array: how many left, or -errno for none.</summary>
    private int SendFrom(int fd, int first, int count)
    {
        while (true)
        {
            int n = sendmmsg(fd, _send + first, (uint)count, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n >= 0)
            {
                return n;
            }

            int e = Marshal.GetLastPInvokeError();
            if (e != EINTR)
            {
                return -e;
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int recvmmsg(int sockfd, mmsghdr* msgvec, uint vlen, int flags, timespec* timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sendmmsg(int sockfd, mmsghdr* msgvec, uint vlen, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int sockfd, msghdr* msg, int flags);

    /// <summary>struct mmsghdr: a msghdr and the byte count the kernel fills in.</summary>
#pragma warning disable CS8981 // the kernel's spelling, as Tmds.Linux spells msghdr
    [StructLayout(LayoutKind.Sequential)]
    private struct mmsghdr
    {
        public msghdr msg_hdr;
        public uint msg_len;
    }
#pragma warning restore CS8981
}
