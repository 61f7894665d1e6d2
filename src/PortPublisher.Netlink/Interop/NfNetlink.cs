namespace PortPublisher.Netlink.Interop;

/// <summary>Constants of <c>linux/netfilter/nfnetlink.h</c> and the NFPROTO values.</summary>
internal static class NfNetlink
{
    public const byte NFNETLINK_V0 = 0;
    public const byte NFNL_SUBSYS_CTNETLINK = 1;
    public const byte NFNL_SUBSYS_NFTABLES = 10;
    public const ushort NFNL_MSG_BATCH_BEGIN = 0x10;
    public const ushort NFNL_MSG_BATCH_END = 0x11;
    public const ushort NFNL_BATCH_GENID = 1;
    public const int NFNLGRP_NFTABLES = 7;

    public const byte NFPROTO_UNSPEC = 0;
    public const byte NFPROTO_INET = 1;
    public const byte NFPROTO_IPV4 = 2;
    public const byte NFPROTO_IPV6 = 10;

    /// <summary>sizeof(struct nfgenmsg).</summary>
    public const int NFGENMSG_LEN = 4;
}
