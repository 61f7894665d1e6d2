namespace PortPublisher.Netlink;

/// <summary>One message read from a datagram: header fields and everything after the 16-byte header.</summary>
internal readonly ref struct NetlinkMessage
{
    public NetlinkMessage(ushort type, ushort flags, uint seq, uint pid, ReadOnlySpan<byte> payload)
    {
        Type = type;
        Flags = flags;
        Seq = seq;
        Pid = pid;
        Payload = payload;
    }

    public ushort Type { get; }

    public ushort Flags { get; }

    public uint Seq { get; }

    public uint Pid { get; }

    public ReadOnlySpan<byte> Payload { get; }
}
