namespace PortPublisher.Netlink.Interop;

/// <summary>Constants of <c>linux/netfilter/nf_tables.h</c> (and the few of <c>netfilter.h</c>, <c>nf_nat.h</c>), spelled as in the kernel.</summary>
internal static class NfTables
{
    public const ushort NFT_MSG_NEWTABLE = 0;
    public const ushort NFT_MSG_GETTABLE = 1;
    public const ushort NFT_MSG_DELTABLE = 2;
    public const ushort NFT_MSG_NEWCHAIN = 3;
    public const ushort NFT_MSG_GETCHAIN = 4;
    public const ushort NFT_MSG_DELCHAIN = 5;
    public const ushort NFT_MSG_NEWRULE = 6;
    public const ushort NFT_MSG_GETRULE = 7;
    public const ushort NFT_MSG_DELRULE = 8;
    public const ushort NFT_MSG_NEWSET = 9;
    public const ushort NFT_MSG_GETSET = 10;
    public const ushort NFT_MSG_DELSET = 11;
    public const ushort NFT_MSG_NEWSETELEM = 12;
    public const ushort NFT_MSG_GETSETELEM = 13;
    public const ushort NFT_MSG_DELSETELEM = 14;
    public const ushort NFT_MSG_NEWGEN = 15;
    public const ushort NFT_MSG_GETGEN = 16;
    public const ushort NFT_MSG_DESTROYTABLE = 26;
    public const ushort NFT_MSG_DESTROYSETELEM = 30;

    public const ushort NFTA_LIST_ELEM = 1;

    public const ushort NFTA_TABLE_NAME = 1;
    public const ushort NFTA_TABLE_FLAGS = 2;
    public const ushort NFTA_TABLE_USE = 3;
    public const ushort NFTA_TABLE_HANDLE = 4;
    public const ushort NFTA_TABLE_OWNER = 7;

    public const ushort NFTA_CHAIN_TABLE = 1;
    public const ushort NFTA_CHAIN_HANDLE = 2;
    public const ushort NFTA_CHAIN_NAME = 3;
    public const ushort NFTA_CHAIN_HOOK = 4;
    public const ushort NFTA_CHAIN_POLICY = 5;
    public const ushort NFTA_CHAIN_TYPE = 7;

    public const ushort NFTA_HOOK_HOOKNUM = 1;
    public const ushort NFTA_HOOK_PRIORITY = 2;

    public const ushort NFTA_RULE_TABLE = 1;
    public const ushort NFTA_RULE_CHAIN = 2;
    public const ushort NFTA_RULE_HANDLE = 3;
    public const ushort NFTA_RULE_EXPRESSIONS = 4;
    public const ushort NFTA_RULE_USERDATA = 7;

    public const ushort NFTA_EXPR_NAME = 1;
    public const ushort NFTA_EXPR_DATA = 2;

    public const ushort NFTA_SET_TABLE = 1;
    public const ushort NFTA_SET_NAME = 2;
    public const ushort NFTA_SET_FLAGS = 3;
    public const ushort NFTA_SET_KEY_TYPE = 4;
    public const ushort NFTA_SET_KEY_LEN = 5;
    public const ushort NFTA_SET_DATA_TYPE = 6;
    public const ushort NFTA_SET_DATA_LEN = 7;
    public const ushort NFTA_SET_ID = 10;
    public const ushort NFTA_SET_EXPR = 17;
    public const uint NFT_SET_MAP = 0x8;

    public const ushort NFTA_SET_ELEM_LIST_TABLE = 1;
    public const ushort NFTA_SET_ELEM_LIST_SET = 2;
    public const ushort NFTA_SET_ELEM_LIST_ELEMENTS = 3;
    public const ushort NFTA_SET_ELEM_LIST_SET_ID = 4;

    public const ushort NFTA_SET_ELEM_KEY = 1;
    public const ushort NFTA_SET_ELEM_DATA = 2;
    public const ushort NFTA_SET_ELEM_EXPR = 7;
    public const ushort NFTA_SET_ELEM_EXPRESSIONS = 11;

    public const ushort NFTA_DATA_VALUE = 1;
    public const ushort NFTA_DATA_VERDICT = 2;
    public const ushort NFTA_VERDICT_CODE = 1;

    public const ushort NFTA_GEN_ID = 1;
    public const ushort NFTA_GEN_PROC_PID = 2;
    public const ushort NFTA_GEN_PROC_NAME = 3;

    public const ushort NFTA_COUNTER_BYTES = 1;
    public const ushort NFTA_COUNTER_PACKETS = 2;

    public const uint NFT_REG_VERDICT = 0;
    public const uint NFT_REG_1 = 1;
    public const uint NFT_REG32_00 = 8;

    public const uint NFT_PAYLOAD_NETWORK_HEADER = 1;
    public const uint NFT_PAYLOAD_TRANSPORT_HEADER = 2;

    public const uint NFT_META_IIFNAME = 6;
    public const uint NFT_META_L4PROTO = 16;

    public const uint NFT_CMP_EQ = 0;
    public const uint NFT_CMP_NEQ = 1;

    public const uint NFT_FIB_RESULT_OIF = 1;
    public const uint NFT_FIB_RESULT_ADDRTYPE = 3;
    public const uint NFTA_FIB_F_DADDR = 0x2;
    public const uint NFTA_FIB_F_IIF = 0x8;
    public const uint NFTA_FIB_F_PRESENT = 0x20;

    public const uint NFT_NAT_DNAT = 1;

    public const uint NFT_CT_STATE = 0;
    public const uint NFT_CT_STATUS = 2;
    public const uint NFT_CT_MARK = 3;

    public const uint NF_DROP = 0;
    public const uint NF_ACCEPT = 1;

    public const uint NF_INET_PRE_ROUTING = 0;
    public const uint NF_INET_LOCAL_OUT = 3;
    public const uint NF_INET_POST_ROUTING = 4;

    public const uint NFT_TABLE_F_OWNER = 0x2;
    public const uint NFT_TABLE_F_PERSIST = 0x4;

    /// <summary><c>RTN_LOCAL</c>, what <c>fib daddr type</c> yields for a local address (host order).</summary>
    public const uint RTN_LOCAL = 2;

    /// <summary><c>IPS_DST_NAT</c> in ct status.</summary>
    public const uint IPS_DST_NAT = 0x20;

    /// <summary><c>IPS_CONFIRMED</c> in ct status: set once a connection's first packet has passed the last hook.</summary>
    public const uint IPS_CONFIRMED = 0x08;

    /// <summary><c>NF_CT_STATE_BIT(IP_CT_NEW)</c>.</summary>
    public const uint NF_CT_STATE_NEW = 0x8;

    public const uint TYPE_IPADDR = 7;
    public const uint TYPE_IP6ADDR = 8;
    public const uint TYPE_INET_PROTOCOL = 12;
    public const uint TYPE_INET_SERVICE = 13;
    public const int TYPE_BITS = 6;
}
