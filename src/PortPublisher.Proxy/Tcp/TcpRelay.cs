using System.Buffers;
using System.Net.Sockets;
using PortPublisher.Proxy.Internal;

namespace PortPublisher.Proxy.Tcp;

/// <summary>
/// Moves one direction of a TCP connection. Both variants first wait for data with a zero-byte receive, so an idle
/// connection holds no buffer; a FIN from the source is forwarded as a FIN (half-close); failures are returned,
/// not thrown. Backpressure is natural: the next read waits until the previous chunk is written.
/// </summary>
internal static class TcpRelay
{
    /// <summary>The copy buffer of the user-space path, rented only while data flows.</summary>
    public const int BufferSize = 64 * 1024;

    /// <summary>
    /// Bytes a direction copies through user space before it switches to splice: a pipe pair costs more syscalls than
    /// a short request/response does, so zero-copy starts only once a direction turns out to carry bulk data.
    /// </summary>
    public const long SpliceThreshold = 256 * 1024;

    private static readonly PumpResult SwitchToSplice = new(PumpOutcome.Eof, SocketError.InProgress);

    public static Task<PumpResult> CopyAsync(Socket from, Socket to, Action<long> count, CancellationToken ct) =>
        CopyAsync(from, to, count, long.MaxValue, ct);

    /// <summary>Copies until EOF or failure, or (returning null) once <paramref name="limit"/> bytes have gone through.</summary>
    private static async Task<PumpResult> CopyAsync(Socket from, Socket to, Action<long> count, long limit, CancellationToken ct)
    {
        byte[]? buffer = null;
        long moved = 0;
        try
        {
            while (moved < limit)
            {
                if (buffer is null)
                {
                    PumpResult? waited = await WaitReadableAsync(from, ct);
                    if (waited is { } r)
                    {
                        return r;
                    }

                    buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
                }

                int n;
                try
                {
                    n = await from.ReceiveAsync(buffer, SocketFlags.None, ct);
                }
                catch (SocketException e)
                {
                    return new PumpResult(PumpOutcome.ReadFailed, e.SocketErrorCode);
                }
                catch (OperationCanceledException)
                {
                    return new PumpResult(PumpOutcome.Canceled);
                }

                if (n == 0)
                {
                    return ForwardFin(to);
                }

                try
                {
                    await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, ct);
                }
                catch (SocketException e)
                {
                    return new PumpResult(PumpOutcome.WriteFailed, e.SocketErrorCode);
                }
                catch (OperationCanceledException)
                {
                    return new PumpResult(PumpOutcome.Canceled);
                }

                count(n);
                moved += n;
                if (n < buffer.Length)
                {
                    // A short read drained the socket: give the buffer back while the source is quiet (an idle
                    // connection must hold none). Deciding by the read's size saves a FIONREAD per chunk.
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }

            return SwitchToSplice;
        }
        catch (ObjectDisposedException)
        {
            return new PumpResult(PumpOutcome.Canceled);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// The zero-copy path: splice(2) socket → pipe → socket, readiness from the runtime's zero-byte receive. When the
    /// destination is full (EAGAIN) the bytes already in the pipe are moved to a pooled buffer and sent with an async
    /// send, so waiting for writability also goes through the runtime instead of blocking a thread.
    /// </summary>
    public static async Task<PumpResult> SpliceAsync(Socket from, Socket to, Action<long> count, CancellationToken ct)
    {
        PumpResult first = await CopyAsync(from, to, count, SpliceThreshold, ct);
        if (first != SwitchToSplice)
        {
            return first;
        }

        // The pipe is made only now, not at connect: an idle or chatty connection costs two fds, not six.
        // splice(2) must not block on either socket, and only the runtime's own calls set O_NONBLOCK so far.
        SplicePipe? pipe = null;
        from.Blocking = false;
        to.Blocking = false;
        try
        {
            while (true)
            {
                PumpResult? waited = await WaitReadableAsync(from, ct);
                if (waited is { } r)
                {
                    return r;
                }

                if (pipe is null)
                {
                    pipe = SplicePipe.TryCreate(out _);
                    if (pipe is null)
                    {
                        return await CopyAsync(from, to, count, ct); // out of fds for pipes: copy instead
                    }
                }

                while (true)
                {
                    long n = Splice(from, pipe.WriteFd, SplicePipe.ChunkSize, toSocket: false);
                    if (n == -Native.EAGAIN)
                    {
                        break; // drained: wait for the next data without holding anything
                    }

                    if (n < 0)
                    {
                        return new PumpResult(PumpOutcome.ReadFailed, ToSocketError((int)-n));
                    }

                    if (n == 0)
                    {
                        return ForwardFin(to);
                    }

                    pipe.Pending = (int)n;
                    PumpResult? written = await DrainAsync(pipe, to, count, ct);
                    if (written is { } w)
                    {
                        return w;
                    }

                    if (n < SplicePipe.ChunkSize)
                    {
                        break; // a short read drained the socket: wait instead of paying for a splice that says EAGAIN
                    }
                }
            }
        }
        catch (ObjectDisposedException)
        {
            return new PumpResult(PumpOutcome.Canceled);
        }
        finally
        {
            pipe?.Dispose();
        }
    }

    /// <summary>
    /// One splice between a socket and the pipe. The socket's handle is referenced only for the syscall: that keeps
    /// its fd number from being closed and reused under us, yet never holds it across an await, where it would make
    /// an abortive Close on another thread wait for this direction (a deadlock when this direction waits on the other socket).
    /// </summary>
    private static long Splice(Socket socket, int pipeFd, int length, bool toSocket)
    {
        bool added = false;
        try
        {
            socket.SafeHandle.DangerousAddRef(ref added);
            int fd = (int)socket.SafeHandle.DangerousGetHandle();
            return toSocket
                ? Native.Splice(pipeFd, fd, length, Native.SPLICE_F_MOVE | Native.SPLICE_F_NONBLOCK)
                : Native.Splice(fd, pipeFd, length, Native.SPLICE_F_MOVE | Native.SPLICE_F_NONBLOCK);
        }
        finally
        {
            if (added)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    private static async ValueTask<PumpResult?> DrainAsync(SplicePipe pipe, Socket to, Action<long> count, CancellationToken ct)
    {
        while (pipe.Pending > 0)
        {
            long m = Splice(to, pipe.ReadFd, pipe.Pending, toSocket: true);
            if (m > 0)
            {
                pipe.Pending -= (int)m;
                count(m);
                continue;
            }

            if (m != -Native.EAGAIN)
            {
                return new PumpResult(PumpOutcome.WriteFailed, ToSocketError((int)-m));
            }

            // Backpressure: the destination's send buffer is full.
            byte[] buffer = ArrayPool<byte>.Shared.Rent(pipe.Pending);
            try
            {
                long got = Native.Read(pipe.ReadFd, buffer.AsSpan(0, pipe.Pending));
                if (got <= 0)
                {
                    return new PumpResult(PumpOutcome.WriteFailed, SocketError.SocketError);
                }

                await to.SendAsync(buffer.AsMemory(0, (int)got), SocketFlags.None, ct);
                pipe.Pending -= (int)got;
                count(got);
            }
            catch (SocketException e)
            {
                return new PumpResult(PumpOutcome.WriteFailed, e.SocketErrorCode);
            }
            catch (OperationCanceledException)
            {
                return new PumpResult(PumpOutcome.Canceled);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }

        return null;
    }

    /// <summary>Zero-byte receive: completes when data or EOF is there, without a buffer (the runtime peeks one byte).</summary>
    private static async ValueTask<PumpResult?> WaitReadableAsync(Socket from, CancellationToken ct)
    {
        try
        {
            await from.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, ct);
            return null;
        }
        catch (SocketException e)
        {
            return new PumpResult(PumpOutcome.ReadFailed, e.SocketErrorCode);
        }
        catch (OperationCanceledException)
        {
            return new PumpResult(PumpOutcome.Canceled);
        }
    }

    private static PumpResult ForwardFin(Socket to)
    {
        try
        {
            to.Shutdown(SocketShutdown.Send);
            return PumpResult.Eof;
        }
        catch (SocketException e)
        {
            return new PumpResult(PumpOutcome.WriteFailed, e.SocketErrorCode);
        }
    }

    private static SocketError ToSocketError(int errno) => errno switch
    {
        104 => SocketError.ConnectionReset,
        32 => SocketError.ConnectionAborted,     // EPIPE: the peer is gone
        103 => SocketError.ConnectionAborted,    // ECONNABORTED
        107 => SocketError.NotConnected,
        110 => SocketError.TimedOut,
        9 => SocketError.OperationAborted,       // EBADF: closed under us while stopping
        _ => SocketError.SocketError,
    };
}
