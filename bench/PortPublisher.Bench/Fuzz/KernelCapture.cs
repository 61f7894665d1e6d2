using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Interop;
using PortPublisher.Netlink.Nft;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// Seeds as the kernel really writes them (root only): in a throwaway namespace with a veth pair (both ends inside it), our tables with
/// four bindings and one UDP conntrack entry (to a mapped port), the raw datagrams that answer GETSETELEM, GETCHAIN, GETRULE, GETGEN,
/// a refused GETTABLE (an NLMSG_ERROR with extended-ack TLVs), RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE and the
/// conntrack dump, plus the multicast events of one install. Nothing outside the namespace is touched; it is deleted
/// on the way out, failure or not.
/// </summary>
internal static class KernelCapture
{
    private const ushort RTM_GETLINK = 18;
    private const ushort RTM_GETADDR = 22;
    private const ushort RTM_GETROUTE = 26;
    private const ushort IPCTNL_MSG_CT_GET = 1;

    public static List<byte[]> Capture()
    {
        string ns = $"ppfuzz{Environment.ProcessId % 100000}";
        Sh($"ip netns add {ns}");
        try
        {
            Sh($"ip -n {ns} link set lo up && ip -n {ns} link add ppf0 type veth peer name ppf1 && ip -n {ns} addr add 192.0.2.1/24 dev ppf0 "
                + $"&& ip -n {ns} addr add 2001:db8::1/64 dev ppf0 nodad && ip -n {ns} link set ppf1 up && ip -n {ns} link set ppf0 up");
            using NetworkNamespace handle = NetworkNamespace.Open(ns);
            var seeds = new List<byte[]>();
            using (NetlinkSocket events = NetlinkSocket.Open(LinuxNetlink.NETLINK_NETFILTER, handle))
            {
                events.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_ADD_MEMBERSHIP, NfNetlink.NFNLGRP_NFTABLES);
                using var backend = new NftablesBackend(handle);
                backend.InstallOrReplace(
                [
                    new NatBinding(IPAddress.Parse("192.0.2.1"), Protocol.Tcp, 8080, IPAddress.Parse("192.0.2.2"), 80),
                    new NatBinding(null, Protocol.Udp, 5353, IPAddress.Parse("192.0.2.2"), 53),
                    new NatBinding(IPAddress.Parse("2001:db8::1"), Protocol.Tcp, 8443, IPAddress.Parse("2001:db8::2"), 443),
                    new NatBinding(null, Protocol.Sctp, 9000, IPAddress.Parse("2001:db8::2"), 9000),
                ]);
                seeds.AddRange(Drain(events));
            }

            // A UDP datagram to the namespace's own 192.0.2.1:5353 makes a conntrack entry (our nat chains load conntrack);
            // it is DNAT'ed to 192.0.2.2, which is only the veth's unanswered peer address, inside the namespace.
            handle.Run(() =>
            {
                using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                udp.SendTo(new byte[1], new IPEndPoint(IPAddress.Parse("192.0.2.1"), 5353));
                return 0;
            });

            using NetlinkSocket nft = NetlinkSocket.Open(LinuxNetlink.NETLINK_NETFILTER, handle);
            nft.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_EXT_ACK, 1);
            foreach (byte family in new[] { NfNetlink.NFPROTO_IPV4, NfNetlink.NFPROTO_IPV6 })
            {
                foreach (string map in new[] { NftRuleset.PublishedMap, NftRuleset.PublishedAnyMap })
                {
                    seeds.AddRange(Exchange(nft, Nft(NfTables.NFT_MSG_GETSETELEM), LinuxNetlink.NLM_F_DUMP, w =>
                    {
                        w.WriteNfGenMsg(family);
                        w.WriteString(NfTables.NFTA_SET_ELEM_LIST_TABLE, "portpublisher");
                        w.WriteString(NfTables.NFTA_SET_ELEM_LIST_SET, map);
                    }));
                }

                seeds.AddRange(Exchange(nft, Nft(NfTables.NFT_MSG_GETCHAIN), LinuxNetlink.NLM_F_DUMP, w =>
                {
                    w.WriteNfGenMsg(family);
                    w.WriteString(NfTables.NFTA_CHAIN_TABLE, "portpublisher");
                }));
                seeds.AddRange(Exchange(nft, Nft(NfTables.NFT_MSG_GETRULE), LinuxNetlink.NLM_F_DUMP, w =>
                {
                    w.WriteNfGenMsg(family);
                    w.WriteString(NfTables.NFTA_RULE_TABLE, "portpublisher");
                }));
            }

            seeds.AddRange(Exchange(nft, Nft(NfTables.NFT_MSG_GETGEN), LinuxNetlink.NLM_F_ACK, w => w.WriteNfGenMsg(NfNetlink.NFPROTO_UNSPEC)));
            seeds.AddRange(Exchange(nft, Nft(NfTables.NFT_MSG_GETTABLE), LinuxNetlink.NLM_F_ACK, w =>
            {
                w.WriteNfGenMsg(NfNetlink.NFPROTO_IPV4);
                w.WriteString(NfTables.NFTA_TABLE_NAME, "no-such-table");
            }));
            seeds.AddRange(Exchange(nft, (NfNetlink.NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET, LinuxNetlink.NLM_F_DUMP, w => w.WriteNfGenMsg(NfNetlink.NFPROTO_IPV4)));

            using NetlinkSocket route = NetlinkSocket.Open(LinuxNetlink.NETLINK_ROUTE, handle);
            route.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_EXT_ACK, 1);
            seeds.AddRange(Exchange(route, RTM_GETLINK, LinuxNetlink.NLM_F_DUMP, w => w.WriteRaw(new byte[16])));
            seeds.AddRange(Exchange(route, RTM_GETADDR, LinuxNetlink.NLM_F_DUMP, w => w.WriteRaw(new byte[8])));
            seeds.AddRange(Exchange(route, RTM_GETROUTE, 0, w =>
            {
                w.WriteRaw([2, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
                w.WriteAttribute(1, IPAddress.Parse("192.0.2.2").GetAddressBytes());
            }));
            return seeds;
        }
        finally
        {
            Sh($"ip netns del {ns}");
        }
    }

    private static ushort Nft(ushort msg) => (ushort)((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | msg);

    /// <summary>Sends one request and keeps every datagram of the answer as it came, until DONE, an error or an ack.</summary>
    private static List<byte[]> Exchange(NetlinkSocket socket, int type, ushort flags, Action<NetlinkWriter> body)
    {
        var w = new NetlinkWriter();
        int m = w.BeginMessage((ushort)type, (ushort)(LinuxNetlink.NLM_F_REQUEST | flags), 1);
        body(w);
        w.EndMessage(m);
        socket.Send(w.WrittenSpan, "fuzz capture");
        var datagrams = new List<byte[]>();
        var buffer = new byte[256 * 1024];
        for (int n; (n = socket.Receive(buffer, 1000)) > 0;)
        {
            datagrams.Add(buffer.AsSpan(0, n).ToArray());
            var r = new NetlinkMessageReader(buffer.AsSpan(0, n));
            while (r.MoveNext())
            {
                if (r.Current.Type is LinuxNetlink.NLMSG_DONE or LinuxNetlink.NLMSG_ERROR)
                {
                    return datagrams;
                }
            }
        }

        return datagrams;
    }

    private static List<byte[]> Drain(NetlinkSocket socket)
    {
        var datagrams = new List<byte[]>();
        var buffer = new byte[256 * 1024];
        for (int n; (n = socket.Receive(buffer, 200)) > 0;)
        {
            datagrams.Add(buffer.AsSpan(0, n).ToArray());
        }

        return datagrams;
    }
}
