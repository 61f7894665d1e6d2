namespace PortPublisher.Proxy.Internal;

/// <summary>The pipe one relay direction splices through: socket → pipe → socket, no copy into user space.</summary>
internal sealed class SplicePipe : IDisposable
{
    /// <summary>Bytes spliced per call; the pipe is sized to hold one such chunk.</summary>
    public const int ChunkSize = 1024 * 1024;

    private SplicePipe(int readFd, int writeFd)
    {
        ReadFd = readFd;
        WriteFd = writeFd;
    }

    public int ReadFd { get; }

    public int WriteFd { get; }

    /// <summary>Bytes in the pipe not yet spliced out.</summary>
    public int Pending { get; set; }

    public static SplicePipe? TryCreate(out int error) =>
        SocketNative.TryCreatePipe(ChunkSize, out int r, out int w, out error) ? new SplicePipe(r, w) : null;

    public void Dispose()
    {
        SocketNative.Close(ReadFd);
        SocketNative.Close(WriteFd);
    }
}
