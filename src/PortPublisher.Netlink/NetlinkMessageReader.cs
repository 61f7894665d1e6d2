using System.Buffers.Binary;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink;

/// <summary>Walks the messages of one datagram; malformed input ends the walk and sets <see cref="Error"/>.</summary>
internal ref struct NetlinkMessageReader
{
    private ReadOnlySpan<byte> _rest;

    public NetlinkMessageReader(ReadOnlySpan<byte> datagram)
    {
        _rest = datagram;
        Current = default;
        Error = false;
    }

    public NetlinkMessage Current { get; private set; }

    public bool Error { get; private set; }

    public bool MoveNext()
    {
        if (_rest.Length < LinuxNetlink.NLMSG_HDRLEN)
        {
            Error |= _rest.Length != 0;
            _rest = default;
            return false;
        }

        uint len = BinaryPrimitives.ReadUInt32LittleEndian(_rest);
        if (len < LinuxNetlink.NLMSG_HDRLEN || len > (uint)_rest.Length)
        {
            Error = true;
            _rest = default;
            return false;
        }

        Current = new NetlinkMessage(
            BinaryPrimitives.ReadUInt16LittleEndian(_rest[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(_rest[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(_rest[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(_rest[12..]),
            _rest[LinuxNetlink.NLMSG_HDRLEN..(int)len]);
        int next = LinuxNetlink.Align((int)len);
        _rest = next >= _rest.Length ? default : _rest[next..];
        return true;
    }

    public readonly NetlinkMessageReader GetEnumerator() => this;
}
