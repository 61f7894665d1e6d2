using System.Buffers.Binary;

namespace PortPublisher.Proxy.Udp;

/// <summary>
/// A flow's identity, read straight from a received sockaddr and IP_PKTINFO without allocating: the client's address
/// and port (and IPv6 scope), and the host address it sent to (zero on a listener bound to one address).
/// </summary>
internal readonly record struct UdpFlowKey(ulong ClientHigh, ulong ClientLow, ushort Port, uint Scope, ulong LocalHigh, ulong LocalLow)
{
    /// <summary>The key of a datagram from sockaddr <paramref name="source"/> to <paramref name="destination"/> (4 or 16 bytes, or empty).</summary>
    public static UdpFlowKey Of(ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        (ulong lh, ulong ll) = Address(destination);
        ushort port = source.Length >= 4 ? BinaryPrimitives.ReadUInt16BigEndian(source[2..]) : (ushort)0;
        if (source.Length >= 28 && BinaryPrimitives.ReadUInt16LittleEndian(source) == 10)
        {
            (ulong ch, ulong cl) = Address(source.Slice(8, 16));
            return new UdpFlowKey(ch, cl, port, BinaryPrimitives.ReadUInt32LittleEndian(source[24..]), lh, ll);
        }

        (ulong h4, ulong l4) = source.Length >= 8 ? Address(source.Slice(4, 4)) : (0, 0);
        return new UdpFlowKey(h4, l4, port, 0, lh, ll);
    }

    private static (ulong High, ulong Low) Address(ReadOnlySpan<byte> a) => a.Length switch
    {
        16 => (BinaryPrimitives.ReadUInt64BigEndian(a), BinaryPrimitives.ReadUInt64BigEndian(a[8..])),
        4 => (0, BinaryPrimitives.ReadUInt32BigEndian(a)),
        _ => (0, 0),
    };
}
