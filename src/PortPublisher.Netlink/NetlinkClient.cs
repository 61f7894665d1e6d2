using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink;

/// <summary>Plain request/response and dumps over one netlink socket (rtnetlink, ctnetlink, nf_tables reads). Not thread-safe.</summary>
internal sealed class NetlinkClient : IDisposable
{
    private const int TimeoutMs = 5000;

    private readonly NetlinkSocket _socket;
    private readonly NetlinkWriter _writer = new();
    private readonly byte[] _receive = new byte[256 * 1024];
    private uint _seq = (uint)Environment.TickCount;

    public NetlinkClient(int protocol, NetworkNamespace? ns)
    {
        _socket = NetlinkSocket.Open(protocol, ns);
        _socket.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_EXT_ACK, 1);
        _socket.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_CAP_ACK, 1);
    }

    /// <summary>A dump: every reply message's type and payload (after the 16-byte header), until NLMSG_DONE.</summary>
    public List<NetlinkReply> Dump(ushort type, Action<NetlinkWriter> body, string operation) =>
        Exchange(type, LinuxNetlink.NLM_F_REQUEST | LinuxNetlink.NLM_F_DUMP, body, operation, untilDone: true);

    /// <summary>A request answered by messages and/or an ack; errors throw, with the errno.</summary>
    public List<NetlinkReply> Request(ushort type, ushort flags, Action<NetlinkWriter> body, string operation) =>
        Exchange(type, (ushort)(LinuxNetlink.NLM_F_REQUEST | LinuxNetlink.NLM_F_ACK | flags), body, operation, untilDone: false);

    public void Dispose() => _socket.Dispose();

    private List<NetlinkReply> Exchange(ushort type, ushort flags, Action<NetlinkWriter> body, string operation, bool untilDone)
    {
        uint seq = ++_seq;
        _writer.Reset();
        int start = _writer.BeginMessage(type, flags, seq);
        body(_writer);
        _writer.EndMessage(start);
        _socket.Send(_writer.WrittenSpan, operation);

        var result = new List<NetlinkReply>();
        while (true)
        {
            int n = _socket.Receive(_receive, TimeoutMs);
            if (n == 0)
            {
                throw new NetlinkException(110, $"{operation}: no reply");
            }

            var reader = new NetlinkMessageReader(_receive.AsSpan(0, n));
            while (reader.MoveNext())
            {
                NetlinkMessage m = reader.Current;
                if (m.Seq != seq)
                {
                    continue;
                }

                if (m.Type == LinuxNetlink.NLMSG_DONE)
                {
                    return result;
                }

                if (m.Type == LinuxNetlink.NLMSG_ERROR)
                {
                    (int errno, _, int offset) = Nft.NftConnection.ParseError(m);
                    if (errno != 0)
                    {
                        throw new NetlinkException(errno, operation, offset, seq);
                    }

                    if (!untilDone)
                    {
                        return result;
                    }

                    continue;
                }

                result.Add(new NetlinkReply(m.Type, m.Flags, m.Payload.ToArray()));
            }

            if (reader.Error)
            {
                throw new NetlinkProtocolException($"{operation}: malformed reply");
            }
        }
    }
}
