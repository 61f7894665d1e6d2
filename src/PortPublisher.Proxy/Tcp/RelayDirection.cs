using System.Buffers;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// One direction of a proxied connection (client → target or back). Bytes go straight from one socket to the other
/// through the loop's scratch buffer; only what the destination cannot take yet is kept, in a pooled buffer (or, once
/// the direction is bulk, in its splice pipe). An idle direction holds nothing.
/// </summary>
internal sealed class RelayDirection
{
    public RelayDirection(int from, int to)
    {
        From = from;
        To = to;
    }

    /// <summary>Side index (0 client, 1 target) read from.</summary>
    public int From { get; }

    /// <summary>Side index written to.</summary>
    public int To { get; }

    /// <summary>Bytes read but not yet written, in a rented buffer.</summary>
    public byte[]? Backlog { get; private set; }

    public int BacklogOffset { get; set; }

    public int BacklogCount { get; set; }

    /// <summary>The pipe this direction splices through once it has carried <see cref="TcpConnection.SpliceThreshold"/> bytes.</summary>
    public SplicePipe? Pipe { get; set; }

    /// <summary>Set when no pipe could be made (out of fds): the direction copies from then on.</summary>
    public bool NoSplice { get; set; }

    public long Moved { get; set; }

    /// <summary>The source sent FIN.</summary>
    public bool Eof { get; set; }

    /// <summary>The FIN was forwarded: this direction is done.</summary>
    public bool FinSent { get; set; }

    public PumpOutcome Outcome { get; set; } = PumpOutcome.Eof;

    public bool HasPending => BacklogCount > 0 || Pipe is { Pending: > 0 };

    public void Keep(ReadOnlySpan<byte> bytes)
    {
        Backlog = ArrayPool<byte>.Shared.Rent(Math.Max(bytes.Length, 4096));
        bytes.CopyTo(Backlog);
        BacklogOffset = 0;
        BacklogCount = bytes.Length;
    }

    public void ReleaseBacklog()
    {
        if (Backlog is { } b)
        {
            Backlog = null;
            BacklogCount = 0;
            ArrayPool<byte>.Shared.Return(b);
        }
    }

    public void Release()
    {
        ReleaseBacklog();
        Pipe?.Dispose();
        Pipe = null;
    }
}
