using System.Runtime.InteropServices;
using System.Text;
using PortPublisher.Cni.Spec;
using static PortPublisher.Cni.Direct.FileLockNative;
using static Tmds.Linux.LibC;

namespace PortPublisher.Cni.Direct;

/// <summary>
/// flock(2) on <c>STATE_DIR/lock</c>: exclusive for ADD, DEL and GC (they read, change and write the state and the
/// tables as one step), shared for CHECK and for the service mode's look at direct attachments. Concurrent plugin
/// processes queue on it; one that cannot get it within the deadline answers 11 (try again later). The kernel lets go
/// of it when the process dies, so a killed plugin never wedges the next.
/// </summary>
internal sealed class StateLock : IDisposable
{
    private const int EINTR = 4;
    private int _fd;

    private StateLock(int fd)
    {
        _fd = fd;
    }

    /// <exception cref="CniException">11 past the deadline; 103 when the directory or lock file cannot be made.</exception>
    public static async Task<StateLock> AcquireAsync(string stateDir, bool exclusive, TimeSpan deadline, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(time);
        try
        {
            Directory.CreateDirectory(stateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniException(CniErrorCode.ErrState, $"cannot create state directory {stateDir}: {e.Message}");
        }

        string path = Path.Combine(stateDir, "lock");
        int fd = Open(path);
        if (fd < 0)
        {
            throw new CniException(CniErrorCode.ErrState, $"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        long started = time.GetTimestamp();
        var wait = TimeSpan.FromMilliseconds(2);
        while (true)
        {
            if (flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
            {
                return new StateLock(fd);
            }

            int error = Marshal.GetLastPInvokeError();
            if (error != EWOULDBLOCK && error != EINTR)
            {
                _ = close(fd);
                throw new CniException(CniErrorCode.ErrState, $"cannot lock {path}: {Marshal.GetPInvokeErrorMessage(error)}");
            }

            TimeSpan left = deadline - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                _ = close(fd);
                throw new CniException(CniErrorCode.ErrTryAgainLater, $"another portpublisher-cni has held {path} for more than {deadline.TotalSeconds:0.#} s; try again later");
            }

            // flock has no timed wait; a short, growing poll keeps a burst of plugin processes moving without spinning.
            await Task.Delay(wait < left ? wait : left, time, cancellationToken);
            wait = TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, TimeSpan.FromMilliseconds(50).Ticks));
        }
    }

    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = close(fd); // closing the last descriptor releases the flock
        }
    }

    private static unsafe int Open(string path)
    {
        byte[] name = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = name)
        {
            return open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0x180 /* 0600 */);
        }
    }
}
