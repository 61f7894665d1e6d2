namespace PortPublisher.Netlink.Interop;

/// <summary>Constants of <c>linux/netlink.h</c>, spelled as in the kernel headers.</summary>
internal static class LinuxNetlink
{
    public const int AF_NETLINK = 16;
    public const int NETLINK_ROUTE = 0;
    public const int NETLINK_NETFILTER = 12;
    public const int SOL_NETLINK = 270;

    public const int NETLINK_ADD_MEMBERSHIP = 1;
    public const int NETLINK_DROP_MEMBERSHIP = 2;
    public const int NETLINK_NO_ENOBUFS = 5;
    public const int NETLINK_CAP_ACK = 10;
    public const int NETLINK_EXT_ACK = 11;

    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SOL_SOCKET = 1;

    public const ushort NLM_F_REQUEST = 0x001;
    public const ushort NLM_F_MULTI = 0x002;
    public const ushort NLM_F_ACK = 0x004;
    public const ushort NLM_F_ECHO = 0x008;
    public const ushort NLM_F_DUMP_INTR = 0x010;
    public const ushort NLM_F_ROOT = 0x100;
    public const ushort NLM_F_MATCH = 0x200;
    public const ushort NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
    public const ushort NLM_F_REPLACE = 0x100;
    public const ushort NLM_F_EXCL = 0x200;
    public const ushort NLM_F_CREATE = 0x400;
    public const ushort NLM_F_APPEND = 0x800;
    public const ushort NLM_F_CAPPED = 0x100;
    public const ushort NLM_F_ACK_TLVS = 0x200;

    public const ushort NLMSG_NOOP = 1;
    public const ushort NLMSG_ERROR = 2;
    public const ushort NLMSG_DONE = 3;
    public const ushort NLMSG_OVERRUN = 4;

    public const ushort NLMSGERR_ATTR_MSG = 1;
    public const ushort NLMSGERR_ATTR_OFFS = 2;

    public const ushort NLA_F_NESTED = 0x8000;
    public const ushort NLA_F_NET_BYTEORDER = 0x4000;
    public const ushort NLA_TYPE_MASK = 0x3fff;

    /// <summary>sizeof(struct nlmsghdr).</summary>
    public const int NLMSG_HDRLEN = 16;

    /// <summary>sizeof(struct nlattr).</summary>
    public const int NLA_HDRLEN = 4;

    /// <summary><c>nla_len</c> is a u16: no attribute, nests included, can be longer.</summary>
    public const int NLA_MAX_LEN = ushort.MaxValue;

    public static int Align(int len) => (len + 3) & ~3;
}
