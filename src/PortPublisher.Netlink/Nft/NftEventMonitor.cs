using System.Buffers.Binary;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// Reports every committed nf_tables change in a namespace (multicast group NFNLGRP_NFTABLES) to a callback, on
/// a dedicated thread, so the service learns at once that someone flushed or edited its tables. If the kernel
/// drops notifications (ENOBUFS) the callback gets an event of kind <c>OVERRUN</c>: state must be re-read.
/// </summary>
public sealed class NftEventMonitor : IDisposable
{
    private static readonly string[] s_names =
    [
        "NEWTABLE", "GETTABLE", "DELTABLE", "NEWCHAIN", "GETCHAIN", "DELCHAIN", "NEWRULE", "GETRULE", "DELRULE",
        "NEWSET", "GETSET", "DELSET", "NEWSETELEM", "GETSETELEM", "DELSETELEM", "NEWGEN", "GETGEN", "TRACE",
        "NEWOBJ", "GETOBJ", "DELOBJ", "GETOBJ_RESET", "NEWFLOWTABLE", "GETFLOWTABLE", "DELFLOWTABLE",
    ];

    private readonly NetlinkSocket _socket;
    private readonly Action<NftEvent> _onEvent;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public NftEventMonitor(Action<NftEvent> onEvent, NetworkNamespace? ns = null)
    {
        ArgumentNullException.ThrowIfNull(onEvent);
        _onEvent = onEvent;
        _socket = NetlinkSocket.Open(LinuxNetlink.NETLINK_NETFILTER, ns);
        _socket.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_ADD_MEMBERSHIP, NfNetlink.NFNLGRP_NFTABLES);

        // A flush of a big map produces one message per object; give bursts room.
        if (!_socket.TrySetOption(LinuxNetlink.SOL_SOCKET, LinuxNetlink.SO_RCVBUFFORCE, 4 << 20, out _))
        {
            _socket.TrySetOption(LinuxNetlink.SOL_SOCKET, LinuxNetlink.SO_RCVBUF, 4 << 20, out _);
        }

        _thread = new Thread(Loop) { IsBackground = true, Name = "nft-events" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        _socket.Dispose();
    }

    private void Loop()
    {
        var buffer = new byte[256 * 1024];
        while (!_stopping)
        {
            int n;
            try
            {
                // A short poll timeout is how Dispose stops the loop without closing the fd under a blocked recv.
                n = _socket.Receive(buffer, 200);
            }
            catch (NetlinkException e) when (e.Errno == 105)
            {
                Raise(new NftEvent("OVERRUN", string.Empty, string.Empty, 0, 0));
                continue;
            }

            if (n > 0)
            {
                Dispatch(buffer.AsSpan(0, n));
            }
        }
    }

    private void Dispatch(ReadOnlySpan<byte> datagram) => Decode(datagram, Raise);

    /// <summary>The events of one multicast datagram, in order. It runs on the monitor's thread, where nothing catches.</summary>
    internal static void Decode(ReadOnlySpan<byte> datagram, Action<NftEvent> raise)
    {
        var reader = new NetlinkMessageReader(datagram);
        while (reader.MoveNext())
        {
            NetlinkMessage m = reader.Current;
            if ((m.Type >> 8) != NfNetlink.NFNL_SUBSYS_NFTABLES || m.Payload.Length < NfNetlink.NFGENMSG_LEN)
            {
                continue;
            }

            int msg = m.Type & 0xff;
            string kind = msg < s_names.Length ? s_names[msg] : $"MSG{msg}";
            byte family = m.Payload[0];
            uint generation = BinaryPrimitives.ReadUInt16BigEndian(m.Payload[2..]);
            ReadOnlySpan<byte> attrs = m.Payload[NfNetlink.NFGENMSG_LEN..];
            string table = string.Empty;

            // Every object message names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE, NFTA_SET_TABLE, …).
            if (msg != NfTables.NFT_MSG_NEWGEN && NetlinkAttributeReader.TryFind(attrs, 1, out NetlinkAttribute t))
            {
                table = t.GetString();
            }
            else if (msg == NfTables.NFT_MSG_NEWGEN && NetlinkAttributeReader.TryFind(attrs, NfTables.NFTA_GEN_ID, out NetlinkAttribute g) && g.Payload.Length >= 4)
            {
                // A short NFTA_GEN_ID keeps the nfgenmsg's 16 bits: GetUInt32BigEndian's throw would end this thread and
                // with it the process (found by `bench fuzz`).
                generation = g.GetUInt32BigEndian();
            }

            raise(new NftEvent(kind, NftBatch.FamilyName(family), table, m.Pid, generation));
        }
    }

    private void Raise(NftEvent e)
    {
        try
        {
            _onEvent(e);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A faulty subscriber must not kill the monitor; the service logs inside its own callback.
        }
    }
}
