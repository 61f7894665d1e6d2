using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using static PortPublisher.Service.Hosting.FileLockNative;
using static Tmds.Linux.LibC;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// One service per state directory: an exclusive flock(2) on <c>STATE_DIR/lock</c>, taken before the socket, the
/// tables or the state are touched, and held until the process exits (the kernel lets go of it even after kill -9).
/// The file holds the owner's PID, so the one refused can say who holds it.
/// </summary>
internal sealed class StateDirectoryLock : IDisposable
{
    public const string FileName = "lock";

    private readonly int _fd;

    private StateDirectoryLock(int fd, string path)
    {
        _fd = fd;
        PathName = path;
    }

    public string PathName { get; }

    /// <summary>Takes the lock, or says in one line why not.</summary>
    /// <exception cref="InvalidOperationException">Another process holds it (the message names its PID), or the directory cannot be used.</exception>
    public static unsafe StateDirectoryLock Acquire(string stateDir)
    {
        try
        {
            Directory.CreateDirectory(stateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"cannot create state directory {stateDir}: {e.Message}", e);
        }

        string path = Path.Combine(stateDir, FileName);
        byte[] name = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = name)
        {
            // The lock is held through a read-only descriptor: flock needs no write access, and a descriptor open for
            // writing would keep the state directory's filesystem from being remounted read-only.
            fd = open(p, O_RDONLY | O_CREAT | O_CLOEXEC, 0x180 /* 0600 */);
            if (fd < 0 && (errno == EROFS || errno == EACCES))
            {
                fd = open(p, O_RDONLY | O_CLOEXEC, 0);
            }
        }

        if (fd < 0)
        {
            throw new InvalidOperationException($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            string holder = ReadHolder(fd);
            _ = close(fd);
            throw new InvalidOperationException(error == EWOULDBLOCK
                ? $"another portpublisherd{holder} is using state directory {stateDir} (it holds {path}); stop it first or use another --state-dir"
                : $"cannot lock {path}: {Marshal.GetPInvokeErrorMessage(error)}");
        }

        // Best effort, through a second descriptor closed at once: a read-only directory keeps the old PID in the file,
        // and the lock itself is what counts.
        byte[] pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        fixed (byte* p = name)
        {
            int w = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC, 0);
            if (w >= 0)
            {
                fixed (byte* b = pid)
                {
                    _ = write(w, b, pid.Length);
                }

                _ = close(w);
            }
        }

        return new StateDirectoryLock(fd, path);
    }

    public void Dispose() => _ = close(_fd);

    /// <summary>
    /// The holder's PID, read through our own descriptor: .NET's FileStream emulates FileShare with flock(2) and would
    /// refuse to open a file that another process holds locked.
    /// </summary>
    private static unsafe string ReadHolder(int fd)
    {
        byte* buffer = stackalloc byte[32];
        long n = pread(fd, buffer, 32, 0);
        if (n <= 0)
        {
            return string.Empty;
        }

        string text = Encoding.ASCII.GetString(buffer, (int)n).Trim();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? $" (PID {pid})" : string.Empty;
    }
}
