namespace PortPublisher.Netlink;

/// <summary>One reply message: its type, flags (NLM_F_MULTI, NLM_F_DUMP_INTR, …) and everything after the 16-byte header.</summary>
internal readonly record struct NetlinkReply(ushort Type, ushort Flags, byte[] Payload);
