using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// The PROXY protocol v2 header (haproxy's proxy-protocol.txt §2.2): a binary preamble telling the backend the
/// client's address and the address it connected to, the one thing a userland proxy otherwise hides (moby#15086).
/// </summary>
internal static class ProxyProtocolV2
{
    private static readonly byte[] s_signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static byte[] Header(IPEndPoint client, IPEndPoint local, bool stream)
    {
        IPAddress src = client.Address, dst = local.Address;
        if (src.IsIPv4MappedToIPv6 && dst.IsIPv4MappedToIPv6)
        {
            src = src.MapToIPv4();
            dst = dst.MapToIPv4();
        }

        bool v6 = src.AddressFamily == AddressFamily.InterNetworkV6 || dst.AddressFamily == AddressFamily.InterNetworkV6;
        if (v6)
        {
            src = src.AddressFamily == AddressFamily.InterNetwork ? src.MapToIPv6() : src;
            dst = dst.AddressFamily == AddressFamily.InterNetwork ? dst.MapToIPv6() : dst;
        }

        int addrLen = v6 ? 36 : 12;
        var h = new byte[16 + addrLen];
        s_signature.CopyTo(h, 0);
        h[12] = 0x21; // version 2, command PROXY
        h[13] = (byte)((v6 ? 0x20 : 0x10) | (stream ? 0x1 : 0x2)); // AF_INET/AF_INET6 | STREAM/DGRAM
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(14), (ushort)addrLen);
        int a = v6 ? 16 : 4;
        src.TryWriteBytes(h.AsSpan(16), out _);
        dst.TryWriteBytes(h.AsSpan(16 + a), out _);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(16 + (2 * a)), (ushort)client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(18 + (2 * a)), (ushort)local.Port);
        return h;
    }
}
