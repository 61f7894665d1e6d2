using System.Buffers.Binary;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink;

/// <summary>
/// Walks a run of attributes. Malformed input (a length shorter than the header or past the end) stops the
/// walk and sets <see cref="Error"/> instead of throwing, so a hostile or truncated message cannot crash a reader.
/// </summary>
internal ref struct NetlinkAttributeReader
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkAttributeReader(ReadOnlySpan<byte> attributes)
    {
        _rest = attributes;
        Current = default;
        Error = false;
    }

    public NetlinkAttribute Current { get; private set; }

    public bool Error { get; private set; }

    public bool MoveNext()
    {
        if (_rest.Length < LinuxNetlink.NLA_HDRLEN)
        {
            Error |= _rest.Length != 0;
            _rest = default;
            return false;
        }

        int len = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]);
        if (len < LinuxNetlink.NLA_HDRLEN || len > _rest.Length)
        {
            Error = true;
            _rest = default;
            return false;
        }

        Current = new NetlinkAttribute(type, _rest[LinuxNetlink.NLA_HDRLEN..len]);
        int next = LinuxNetlink.Align(len);
        _rest = next >= _rest.Length ? default : _rest[next..];
        return true;
    }

    public readonly NetlinkAttributeReader GetEnumerator() => this;

    /// <summary>Finds the first attribute of a type.</summary>
    public static bool TryFind(ReadOnlySpan<byte> attributes, ushort type, out NetlinkAttribute found)
    {
        var r = new NetlinkAttributeReader(attributes);
        while (r.MoveNext())
        {
            if (r.Current.Type == type)
            {
                found = r.Current;
                return true;
            }
        }

        found = default;
        return false;
    }
}
