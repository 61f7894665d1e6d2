using System.Buffers.Binary;
using System.Net;
using System.Runtime.InteropServices;
using PortPublisher.Netlink;
using PortPublisher.TestKit;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Spoofed TCP SYNs to the host's 127.0.0.0/8 from a namespace on one of its links: raw Ethernet frames with the host
/// link's MAC as destination, sent and watched on an AF_PACKET socket made inside that namespace. A reply of any
/// kind (SYN-ACK or RST) from 127.0.0.0/8 means the host let the packet in to its loopback services.
/// </summary>
internal sealed unsafe partial class SynProbe : IDisposable
{
    private const int AF_PACKET = 17;
    private const int SOCK_RAW = 3;
    private const ushort ETH_P_ALL = 0x0003;
    private const ushort ETH_P_IP = 0x0800;
    private const int SOL_SOCKET = 1;
    private const int SO_RCVTIMEO = 20;

    private readonly int _fd;
    private readonly int _ifindex;
    private readonly byte[] _ownMac;
    private readonly byte[] _hostMac;
    private readonly IPAddress _source;
    private ushort _nextPort = 40000;

    private SynProbe(int ifindex, byte[] ownMac, byte[] hostMac, IPAddress source)
    {
        _ifindex = ifindex;
        _ownMac = ownMac;
        _hostMac = hostMac;
        _source = source;
        _fd = socket(AF_PACKET, SOCK_RAW, BinaryPrimitives.ReverseEndianness(ETH_P_ALL));
        if (_fd < 0)
        {
            throw new InvalidOperationException($"socket(AF_PACKET): errno {Marshal.GetLastPInvokeError()}");
        }

        var addr = new SockaddrLl { Family = AF_PACKET, Protocol = BinaryPrimitives.ReverseEndianness(ETH_P_ALL), IfIndex = ifindex };
        if (bind(_fd, &addr, sizeof(SockaddrLl)) != 0)
        {
            throw new InvalidOperationException($"bind(AF_PACKET): errno {Marshal.GetLastPInvokeError()}");
        }

        var timeout = new Timeval { Seconds = 0, Microseconds = 20_000 };
        if (setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(Timeval)) != 0)
        {
            throw new InvalidOperationException($"setsockopt(SO_RCVTIMEO): errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>A probe on <paramref name="link"/> of namespace <paramref name="ns"/>, aimed at the host end <paramref name="hostLink"/> in <paramref name="hostNs"/>.</summary>
    public static SynProbe Open(string nsName, NetworkNamespace ns, string link, IPAddress source, string hostNsName, string hostLink)
    {
        int ifindex = int.Parse(Shell.Sh($"ip netns exec {nsName} cat /sys/class/net/{link}/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        byte[] own = Mac(Shell.Sh($"ip netns exec {nsName} cat /sys/class/net/{link}/address"));
        byte[] host = Mac(Shell.Sh($"ip netns exec {hostNsName} cat /sys/class/net/{hostLink}/address"));
        return ns.Run(() => new SynProbe(ifindex, own, host, source));
    }

    /// <summary>Sends <paramref name="count"/> SYNs to each port, then counts replies from 127/8 until <paramref name="window"/> has passed since the last send.</summary>
    public int Probe(IReadOnlyList<int> ports, int count, TimeSpan window)
    {
        var ours = new HashSet<ushort>();
        for (int i = 0; i < count; i++)
        {
            foreach (int port in ports)
            {
                ushort sport = _nextPort++;
                if (_nextPort > 60000)
                {
                    _nextPort = 40000;
                }

                ours.Add(sport);
                Send(Syn(sport, (ushort)port));
            }
        }

        int replies = 0;
        var buffer = new byte[2048];
        long until = Environment.TickCount64 + (long)window.TotalMilliseconds;
        while (Environment.TickCount64 < until)
        {
            int n;
            fixed (byte* p = buffer)
            {
                n = (int)recv(_fd, p, buffer.Length, 0);
            }

            if (n >= 14 + 20 + 20 && IsReplyFromLoopback(buffer.AsSpan(0, n), ours))
            {
                replies++;
            }
        }

        return replies;
    }

    public void Dispose() => _ = close(_fd);

    private static bool IsReplyFromLoopback(ReadOnlySpan<byte> f, HashSet<ushort> ours)
    {
        if (BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != ETH_P_IP || f[14 + 9] != 6 || f[14 + 12] != 127)
        {
            return false;
        }

        int ihl = (f[14] & 0xf) * 4;
        ReadOnlySpan<byte> tcp = f[(14 + ihl)..];
        return ours.Contains(BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]));
    }

    private byte[] Syn(ushort sport, ushort dport)
    {
        var f = new byte[14 + 20 + 20];
        _hostMac.CopyTo(f, 0);
        _ownMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), ETH_P_IP);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 40);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], sport);
        ip[8] = 64;
        ip[9] = 6;
        _source.TryWriteBytes(ip[12..], out _);
        IPAddress.Loopback.TryWriteBytes(ip[16..], out _);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip, 0));

        Span<byte> tcp = f.AsSpan(34, 20);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sport);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], dport);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 0x01020304u + sport);
        tcp[12] = 5 << 4;
        tcp[13] = 0x02; // SYN
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);

        // The pseudo-header's sum (addresses, protocol, length) seeds the segment's checksum.
        uint pseudo = 6u + 20u;
        for (int i = 12; i < 20; i += 2)
        {
            pseudo += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        }

        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum(tcp, pseudo));
        return f;
    }

    private static ushort Checksum(ReadOnlySpan<byte> data, uint sum)
    {
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    private void Send(byte[] frame)
    {
        var addr = new SockaddrLl { Family = AF_PACKET, Protocol = BinaryPrimitives.ReverseEndianness(ETH_P_IP), IfIndex = _ifindex, HaLen = 6 };
        fixed (byte* p = frame)
        {
            if (sendto(_fd, p, frame.Length, 0, &addr, sizeof(SockaddrLl)) < 0)
            {
                throw new InvalidOperationException($"sendto(AF_PACKET): errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }

    private static byte[] Mac(string text) => [.. text.Trim().Split(':').Select(h => Convert.ToByte(h, 16))];

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timeval
    {
        public long Seconds;
        public long Microseconds;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int bind(int fd, SockaddrLl* addr, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setsockopt(int fd, int level, int name, void* value, int len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendto(int fd, byte* buf, nint len, int flags, SockaddrLl* addr, int addrlen);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
