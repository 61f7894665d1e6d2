using System.Buffers.Binary;
using System.Text;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink;

/// <summary>One attribute read from a message: its type (flags masked off) and payload.</summary>
internal readonly ref struct NetlinkAttribute
{
    public NetlinkAttribute(ushort rawType, ReadOnlySpan<byte> payload)
    {
        RawType = rawType;
        Payload = payload;
    }

    public ushort RawType { get; }

    public ushort Type => (ushort)(RawType & LinuxNetlink.NLA_TYPE_MASK);

    public bool IsNested => (RawType & LinuxNetlink.NLA_F_NESTED) != 0;

    public ReadOnlySpan<byte> Payload { get; }

    public NetlinkAttributeReader Nested => new(Payload);

    public uint GetUInt32BigEndian() => Payload.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(Payload) : throw Bad(4);

    public ulong GetUInt64BigEndian() => Payload.Length >= 8 ? BinaryPrimitives.ReadUInt64BigEndian(Payload) : throw Bad(8);

    public uint GetUInt32() => Payload.Length >= 4 ? BinaryPrimitives.ReadUInt32LittleEndian(Payload) : throw Bad(4);

    public string GetString()
    {
        ReadOnlySpan<byte> p = Payload;
        int nul = p.IndexOf((byte)0);
        return Encoding.UTF8.GetString(nul >= 0 ? p[..nul] : p);
    }

    private NetlinkProtocolException Bad(int want) => new($"attribute {Type} has {Payload.Length} bytes, expected {want}");
}
