namespace PortPublisher.Netlink.Interop;

/// <summary>
/// Constants of <c>linux/rtnetlink.h</c>, <c>linux/if_link.h</c>, <c>linux/if_addr.h</c>, <c>linux/veth.h</c> and
/// <c>linux/if.h</c> for the link, address and route writes, spelled as in the kernel headers.
/// </summary>
internal static class RtNetlink
{
    public const ushort RTM_NEWLINK = 16;
    public const ushort RTM_DELLINK = 17;
    public const ushort RTM_GETLINK = 18;
    public const ushort RTM_NEWADDR = 20;
    public const ushort RTM_GETADDR = 22;
    public const ushort RTM_NEWROUTE = 24;
    public const ushort RTM_GETROUTE = 26;

    public const ushort IFLA_ADDRESS = 1;
    public const ushort IFLA_IFNAME = 3;
    public const ushort IFLA_MASTER = 10;
    public const ushort IFLA_LINKINFO = 18;
    public const ushort IFLA_IFALIAS = 20;
    public const ushort IFLA_NET_NS_FD = 28;
    public const ushort IFLA_INFO_KIND = 1;
    public const ushort IFLA_INFO_DATA = 2;
    public const ushort IFLA_INFO_SLAVE_KIND = 4;
    public const ushort IFLA_INFO_SLAVE_DATA = 5;
    public const ushort IFLA_BRPORT_MODE = 4;
    public const ushort VETH_INFO_PEER = 1;

    public const ushort IFA_ADDRESS = 1;
    public const ushort IFA_LOCAL = 2;
    public const ushort IFA_BROADCAST = 4;

    public const ushort RTA_DST = 1;
    public const ushort RTA_OIF = 4;
    public const ushort RTA_GATEWAY = 5;
    public const ushort RTA_TABLE = 15;

    public const byte RT_TABLE_MAIN = 254;
    public const byte RTPROT_BOOT = 3;
    public const byte RT_SCOPE_UNIVERSE = 0;
    public const byte RTN_UNICAST = 1;

    public const uint IFF_UP = 0x1;

    public const byte AF_UNSPEC = 0;
    public const byte AF_INET = 2;

    /// <summary>sizeof(struct ifinfomsg).</summary>
    public const int IFINFOMSG_LEN = 16;

    /// <summary>sizeof(struct ifaddrmsg).</summary>
    public const int IFADDRMSG_LEN = 8;

    /// <summary>sizeof(struct rtmsg).</summary>
    public const int RTMSG_LEN = 12;

    /// <summary>IFNAMSIZ - 1: the longest interface name the kernel takes.</summary>
    public const int IFNAMSIZ_MAX = 15;
}
