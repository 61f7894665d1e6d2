using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink;

/// <summary>
/// Builds netlink messages back to back in one growable buffer: headers in host order, nf_tables
/// integers big-endian, every attribute padded to 4 bytes with zeros. Nests are back-patched when closed,
/// and a nest or attribute longer than <c>nla_len</c> can say (65,535 bytes) is refused, never truncated.
/// </summary>
internal sealed class NetlinkWriter
{
    private byte[] _buffer;
    private int _length;

    public NetlinkWriter(int capacity = 4096)
    {
        _buffer = new byte[Math.Max(capacity, 64)];
    }

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public void Reset() => _length = 0;

    /// <summary>Starts a message; returns its offset for <see cref="EndMessage"/>.</summary>
    public int BeginMessage(ushort type, ushort flags, uint seq, uint pid = 0)
    {
        int start = _length;
        Span<byte> h = Grow(LinuxNetlink.NLMSG_HDRLEN);
        BinaryPrimitives.WriteUInt32LittleEndian(h, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(h[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(h[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], seq);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], pid);
        return start;
    }

    /// <summary>The nfnetlink header: family, version 0, and a big-endian resource id.</summary>
    public void WriteNfGenMsg(byte family, ushort resId = 0)
    {
        Span<byte> g = Grow(NfNetlink.NFGENMSG_LEN);
        g[0] = family;
        g[1] = NfNetlink.NFNETLINK_V0;
        BinaryPrimitives.WriteUInt16BigEndian(g[2..], resId);
    }

    /// <summary>Raw bytes inside the current message (fixed headers such as rtmsg), padded to 4.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Grow(LinuxNetlink.Align(bytes.Length)));
    }

    /// <summary>Patches <c>nlmsg_len</c> (unpadded, as the kernel wants it).</summary>
    public void EndMessage(int start)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(start), (uint)(_length - start));
    }

    public void WriteAttribute(ushort type, ReadOnlySpan<byte> payload)
    {
        int len = LinuxNetlink.NLA_HDRLEN + payload.Length;
        if (len > LinuxNetlink.NLA_MAX_LEN)
        {
            ThrowTooLong(type, len);
        }

        Span<byte> a = Grow(LinuxNetlink.Align(len));
        BinaryPrimitives.WriteUInt16LittleEndian(a, (ushort)len);
        BinaryPrimitives.WriteUInt16LittleEndian(a[2..], type);
        payload.CopyTo(a[4..]);
    }

    /// <summary>A NUL-terminated string, the NUL counted in <c>nla_len</c> (as nft sends it).</summary>
    public void WriteString(ushort type, string value)
    {
        int n = Encoding.UTF8.GetByteCount(value);
        Span<byte> tmp = n < 256 ? stackalloc byte[n + 1] : new byte[n + 1];
        Encoding.UTF8.GetBytes(value, tmp);
        tmp[n] = 0;
        WriteAttribute(type, tmp);
    }

    public void WriteUInt32BigEndian(ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(v, value);
        WriteAttribute(type, v);
    }

    public void WriteUInt64BigEndian(ushort type, ulong value)
    {
        Span<byte> v = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(v, value);
        WriteAttribute(type, v);
    }

    /// <summary>Opens a nest (<c>NLA_F_NESTED</c> set, as libnftnl does); returns its offset for <see cref="EndNested"/>.</summary>
    public int BeginNested(ushort type)
    {
        int start = _length;
        Span<byte> a = Grow(LinuxNetlink.NLA_HDRLEN);
        BinaryPrimitives.WriteUInt16LittleEndian(a, 0);
        BinaryPrimitives.WriteUInt16LittleEndian(a[2..], (ushort)(type | LinuxNetlink.NLA_F_NESTED));
        return start;
    }

    public void EndNested(int start)
    {
        int len = _length - start;
        if (len > LinuxNetlink.NLA_MAX_LEN)
        {
            ThrowTooLong(BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(start + 2)), len);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(start), (ushort)len);
    }

    /// <summary>How long the nest opened at <paramref name="start"/> is so far.</summary>
    public int NestLength(int start) => _length - start;

    /// <summary>Drops everything written after <paramref name="offset"/>.</summary>
    public void Truncate(int offset) => _length = offset;

    /// <summary>An empty nest: <c>expr("masq")</c> and the counter template need one.</summary>
    public void WriteEmptyNested(ushort type) => EndNested(BeginNested(type));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Grow(int count)
    {
        if (_length + count > _buffer.Length)
        {
            GrowSlow(count);
        }

        Span<byte> span = _buffer.AsSpan(_length, count);
        span.Clear(); // padding bytes must be zero: the kernel accepts non-zero key padding that can never match
        _length += count;
        return span;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowSlow(int count)
    {
        int size = Math.Max(_buffer.Length * 2, _length + count);
        Array.Resize(ref _buffer, size);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowTooLong(ushort type, int len) =>
        throw new InvalidOperationException($"netlink attribute {type & LinuxNetlink.NLA_TYPE_MASK} would be {len} bytes; nla_len cannot exceed {LinuxNetlink.NLA_MAX_LEN}");
}
