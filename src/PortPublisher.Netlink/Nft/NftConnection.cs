using System.Buffers.Binary;
using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Nft;

/// <summary>
/// A command socket for nf_tables in one network namespace: commits batches (all-or-nothing, every reply read),
/// reads the generation, and dumps. Not thread-safe: one caller at a time (the service has a single writer).
/// </summary>
internal sealed class NftConnection : IDisposable
{
    // nft reads with 64 KiB + a page; dumps of big maps come in skbs of up to ~32 KiB, errors are capped (NETLINK_CAP_ACK).
    private const int ReceiveBufferSize = 256 * 1024;

    // The kernel processes a batch inside sendmsg, so every reply is queued when it returns; the timeout only
    // guards against a reply that never comes.
    private const int ReplyTimeoutMs = 5000;

    private readonly NetlinkSocket _socket;
    private readonly NetlinkClient _reader;
    private readonly NetlinkWriter _writer = new(16 * 1024);
    private readonly byte[] _receive = new byte[ReceiveBufferSize];
    private uint _seq = (uint)Environment.TickCount;
    private int _rcvbuf;
    private int _sndbuf;

    public NftConnection(NetworkNamespace? ns = null)
    {
        _socket = NetlinkSocket.Open(LinuxNetlink.NETLINK_NETFILTER, ns);
        _socket.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_EXT_ACK, 1);
        _socket.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_CAP_ACK, 1);
        _rcvbuf = _socket.GetOption(LinuxNetlink.SOL_SOCKET, LinuxNetlink.SO_RCVBUF);
        _sndbuf = _socket.GetOption(LinuxNetlink.SOL_SOCKET, LinuxNetlink.SO_SNDBUF);

        // Reads (generation, dumps) go over a socket of their own, so commits and reads never mix replies.
        _reader = new NetlinkClient(LinuxNetlink.NETLINK_NETFILTER, ns);
    }

    /// <summary>Our port id: events caused by our own batches carry it.</summary>
    public uint PortId => _socket.PortId;

    /// <summary>Bytes of the last committed batch, for benchmarks and logs.</summary>
    public int LastBatchBytes { get; private set; }

    /// <summary>Messages of the last committed batch.</summary>
    public int LastBatchMessages { get; private set; }

    /// <summary>Encodes the batch only (for golden-byte tests): the datagram that <see cref="Commit"/> would send.</summary>
    public static byte[] EncodeOnly(NftBatch batch, uint seq, uint? generation = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var w = new NetlinkWriter();
        batch.Encode(w, seq, generation);
        return w.WrittenSpan.ToArray();
    }

    /// <summary>
    /// Commits the batch in one sendmsg and reads a reply for every message. Success only if every reply is 0 and
    /// nothing failed against the BATCH_BEGIN seq (the generation check and commit-time errors land there).
    /// </summary>
    /// <param name="batch">The operations.</param>
    /// <param name="generation">If given, the kernel rejects the batch with ERESTART when the ruleset changed since.</param>
    /// <exception cref="NetlinkException">The first error, naming the operation; nothing was applied. Errno ENOBUFS: replies were lost and the batch may or may not have been applied.</exception>
    public void Commit(NftBatch batch, uint? generation = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Count == 0)
        {
            return;
        }

        _writer.Reset();
        uint beginSeq = NextSeq();
        List<NftMessage> sent = batch.Encode(_writer, beginSeq, generation);
        _seq = beginSeq + (uint)sent.Count + 1;
        LastBatchBytes = _writer.Length;
        LastBatchMessages = sent.Count;
        EnsureBuffers(_writer.Length, sent.Count);
        _socket.Send(_writer.WrittenSpan, "nf_tables batch");

        var pending = new Dictionary<uint, string>(sent.Count);
        foreach (NftMessage m in sent)
        {
            pending[m.Seq] = m.Operation;
        }

        NetlinkException? first = null;
        int failures = 0;
        while (pending.Count > 0)
        {
            int n = _socket.Receive(_receive, ReplyTimeoutMs);
            if (n == 0)
            {
                throw new NetlinkException(110, $"nf_tables batch: no reply for {pending.Count} of {sent.Count} messages (first: {pending.Values.First()})");
            }

            var reader = new NetlinkMessageReader(_receive.AsSpan(0, n));
            while (reader.MoveNext())
            {
                NetlinkMessage m = reader.Current;
                if (m.Type != LinuxNetlink.NLMSG_ERROR)
                {
                    continue; // NEWGEN and echoes come before the acks
                }

                (int errno, uint seq, int offset) = ParseError(m);
                string op = seq == beginSeq ? "nf_tables batch" : pending.GetValueOrDefault(seq, $"message seq {seq}");
                pending.Remove(seq);
                if (errno != 0)
                {
                    failures++;
                    first ??= new NetlinkException(errno, op, offset, seq);
                    if (seq == beginSeq)
                    {
                        // The whole batch was refused before its messages ran (e.g. ERESTART): no acks follow.
                        pending.Clear();
                    }
                }
            }

            if (reader.Error)
            {
                throw new NetlinkProtocolException("malformed netlink reply to an nf_tables batch");
            }
        }

        if (first is not null)
        {
            throw failures == 1 ? first : new NetlinkException(first.Errno, $"{first.Operation} (and {failures - 1} more failures)", first.Offset, first.Sequence);
        }
    }

    /// <summary>The ruleset generation (<c>NFT_MSG_GETGEN</c>): every committed batch adds one.</summary>
    public uint GetGeneration()
    {
        foreach (NetlinkReply r in _reader.Request(NftType(NfTables.NFT_MSG_GETGEN), 0, w => w.WriteNfGenMsg(NfNetlink.NFPROTO_UNSPEC), "getgen"))
        {
            if (r.Type == NftType(NfTables.NFT_MSG_NEWGEN) && r.Payload.Length >= NfNetlink.NFGENMSG_LEN
                && NetlinkAttributeReader.TryFind(r.Payload.AsSpan(NfNetlink.NFGENMSG_LEN), NfTables.NFTA_GEN_ID, out NetlinkAttribute id))
            {
                return id.GetUInt32BigEndian();
            }
        }

        throw new NetlinkProtocolException("getgen: no NEWGEN in the reply");
    }

    /// <summary>
    /// A consistent dump: GETGEN, the dump, GETGEN again; retried when the ruleset changed underneath
    /// (NLM_F_DUMP_INTR, a res_id from another generation, or a different generation afterwards).
    /// Returns each NEW* message's payload after the nfgenmsg. A missing table or set yields ENOENT.
    /// </summary>
    public List<byte[]> Dump(ushort msg, byte family, Action<NetlinkWriter>? filter, string operation)
    {
        for (int attempt = 0; ; attempt++)
        {
            uint g1 = GetGeneration();
            List<byte[]>? result = TryDumpOnce(msg, family, filter, operation, g1);
            if (result is not null && GetGeneration() == g1)
            {
                return result;
            }

            if (attempt == 20)
            {
                throw new NetlinkException(16, $"{operation}: the ruleset kept changing during the dump");
            }
        }
    }

    public void Dispose()
    {
        _socket.Dispose();
        _reader.Dispose();
    }

    private List<byte[]>? TryDumpOnce(ushort msg, byte family, Action<NetlinkWriter>? filter, string operation, uint generation) =>
        ConsistentPayloads(_reader.Dump(NftType(msg), w =>
        {
            w.WriteNfGenMsg(family);
            filter?.Invoke(w);
        }, operation), generation, operation);

    /// <summary>
    /// The payloads after the nfgenmsg of one dump's replies, or null when the dump is not consistent: every part of a
    /// consistent dump carries the generation it started in, and none is marked interrupted.
    /// </summary>
    /// <exception cref="NetlinkProtocolException">A reply too short to hold its nfgenmsg.</exception>
    internal static List<byte[]>? ConsistentPayloads(List<NetlinkReply> replies, uint generation, string operation)
    {
        var result = new List<byte[]>(replies.Count);
        bool consistent = true;
        foreach (NetlinkReply r in replies)
        {
            if (r.Payload.Length < NfNetlink.NFGENMSG_LEN)
            {
                // Found by `bench fuzz`: this used to mark the dump inconsistent and then slice past the end anyway.
                throw new NetlinkProtocolException($"{operation}: a {r.Payload.Length}-byte reply is shorter than its nfgenmsg");
            }

            if ((r.Flags & LinuxNetlink.NLM_F_DUMP_INTR) != 0 || BinaryPrimitives.ReadUInt16BigEndian(r.Payload.AsSpan(2)) != (ushort)generation)
            {
                consistent = false;
            }

            result.Add(r.Payload[NfNetlink.NFGENMSG_LEN..]);
        }

        return consistent ? result : null;
    }

    private static ushort NftType(ushort msg) => (ushort)((NfNetlink.NFNL_SUBSYS_NFTABLES << 8) | msg);

    /// <summary>NLMSG_ERROR: i32 -errno, the request's header, then (capped) extended-ack TLVs.</summary>
    internal static (int Errno, uint Seq, int Offset) ParseError(NetlinkMessage m)
    {
        ReadOnlySpan<byte> p = m.Payload;
        if (p.Length < 4 + LinuxNetlink.NLMSG_HDRLEN)
        {
            throw new NetlinkProtocolException("truncated NLMSG_ERROR");
        }

        int errno = -BinaryPrimitives.ReadInt32LittleEndian(p);
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
        uint seq = BinaryPrimitives.ReadUInt32LittleEndian(p[12..]);
        int offset = -1;
        if ((m.Flags & LinuxNetlink.NLM_F_ACK_TLVS) != 0)
        {
            // The echoed request's nlmsg_len comes off the wire: in long, a value past the payload (or past int.MaxValue,
            // which went negative in int and sliced before the start; found by `bench fuzz`) just means no TLVs.
            long tlvStart = 4 + ((m.Flags & LinuxNetlink.NLM_F_CAPPED) != 0 ? LinuxNetlink.NLMSG_HDRLEN : ((len + 3L) & ~3L));
            if (tlvStart <= p.Length && NetlinkAttributeReader.TryFind(p[(int)tlvStart..], LinuxNetlink.NLMSGERR_ATTR_OFFS, out NetlinkAttribute offs))
            {
                offset = (int)offs.GetUInt32();
            }
        }

        return (errno, seq, offset);
    }

    private uint NextSeq() => ++_seq;

    /// <summary>
    /// Sizes the socket for the batch, as nft does: the datagram must fit SO_SNDBUF - 32 (EMSGSIZE otherwise), and
    /// every ack costs far more than its 36 bytes against SO_RCVBUF (ENOBUFS otherwise): 1 KiB per message.
    /// The FORCE variants pass net.core.*mem_max but need CAP_NET_ADMIN in the initial user namespace.
    /// </summary>
    private void EnsureBuffers(int datagramBytes, int messages)
    {
        int wantSnd = datagramBytes + 4096;
        if (_sndbuf / 2 < wantSnd)
        {
            SetBuffer(LinuxNetlink.SO_SNDBUFFORCE, LinuxNetlink.SO_SNDBUF, wantSnd);
            _sndbuf = _socket.GetOption(LinuxNetlink.SOL_SOCKET, LinuxNetlink.SO_SNDBUF);
            if (_sndbuf - 32 < datagramBytes)
            {
                throw new NetlinkException(90, $"nf_tables batch of {datagramBytes} bytes does not fit the {_sndbuf}-byte send buffer, and it cannot be raised (SO_SNDBUFFORCE needs CAP_NET_ADMIN; raise net.core.wmem_max)");
            }
        }

        int wantRcv = Math.Max(messages * 1024, 256 * 1024);
        if (_rcvbuf / 2 < wantRcv)
        {
            SetBuffer(LinuxNetlink.SO_RCVBUFFORCE, LinuxNetlink.SO_RCVBUF, wantRcv);
            _rcvbuf = _socket.GetOption(LinuxNetlink.SOL_SOCKET, LinuxNetlink.SO_RCVBUF);
        }
    }

    private void SetBuffer(int force, int plain, int bytes)
    {
        if (!_socket.TrySetOption(LinuxNetlink.SOL_SOCKET, force, bytes, out _))
        {
            _socket.TrySetOption(LinuxNetlink.SOL_SOCKET, plain, bytes, out _);
        }
    }
}
