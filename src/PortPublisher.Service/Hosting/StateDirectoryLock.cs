using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using PortPublisher.Core.Api;
using static PortPublisher.Service.Hosting.FileLockNative;
using static Tmds.Linux.LibC;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// One service per state directory: an exclusive flock(2) on the directory itself, taken before the socket, the tables
/// or the state are touched, and held until the process exits (the kernel lets go of it even after kill -9).
/// <c>STATE_DIR/lock</c> holds the owner's PID, so the one refused can say who holds it.
/// </summary>
internal sealed class StateDirectoryLock : IDisposable
{
    public const string FileName = ServiceFootprint.StateLockFile;

    private readonly int _fd;

    private readonly bool _created;

    private StateDirectoryLock(int fd, string path, bool created)
    {
        _fd = fd;
        PathName = path;
        _created = created;
    }

    public string PathName { get; }

    /// <summary>Takes the lock, or says in one line why not.</summary>
    /// <exception cref="InvalidOperationException">Another process holds it (the message names its PID), or the directory cannot be used.</exception>
    public static unsafe StateDirectoryLock Acquire(string stateDir)
    {
        bool created = !Directory.Exists(stateDir);
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
        fixed (byte* d = Encoding.UTF8.GetBytes(stateDir + "\0"))
        {
            // The lock is on the directory itself, so removing or replacing the PID file cannot unlock it, and the
            // descriptor is read-only, so the directory's filesystem can still be remounted read-only.
            fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        }

        if (fd < 0)
        {
            throw new InvalidOperationException($"cannot open state directory {stateDir}: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        if (flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            _ = close(fd);
            throw new InvalidOperationException(error == EWOULDBLOCK
                ? $"another portpublisherd{ReadHolder(name)} is using state directory {stateDir}; stop it first or use another --state-dir"
                : $"cannot lock {stateDir}: {Marshal.GetPInvokeErrorMessage(error)}");
        }

        // Best effort, through a second descriptor closed at once: a read-only directory keeps the old PID in the file,
        // and the lock itself is what counts.
        byte[] pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        fixed (byte* p = name)
        {
            int w = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0x180 /* 0600 */);
            if (w >= 0)
            {
                fixed (byte* b = pid)
                {
                    _ = write(w, b, pid.Length);
                }

                _ = close(w);
            }
        }

        return new StateDirectoryLock(fd, path, created);
    }

    public void Dispose() => _ = close(_fd);

    /// <summary>
    /// Releases the lock of a start that was refused later (another service's table or socket): a state directory this
    /// start made goes again with its lock file, so a refused start leaves nothing behind.
    /// </summary>
    public void Abandon()
    {
        if (_created)
        {
            try
            {
                File.Delete(PathName);
                string dir = Path.GetDirectoryName(PathName)!;
                if (!Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left as it is: only a leftover, and the refusal is what the caller reports.
            }
        }

        Dispose();
    }

    /// <summary>
    /// The holder's PID from the file it wrote, read with plain open/pread: .NET's FileStream emulates FileShare with
    /// flock(2), which is not what is wanted next to a lock.
    /// </summary>
    private static unsafe string ReadHolder(byte[] name)
    {
        int fd;
        fixed (byte* p = name)
        {
            fd = open(p, O_RDONLY | O_CLOEXEC, 0);
        }

        if (fd < 0)
        {
            return string.Empty;
        }

        byte* buffer = stackalloc byte[32];
        long n = pread(fd, buffer, 32, 0);
        _ = close(fd);
        if (n <= 0)
        {
            return string.Empty;
        }

        string text = Encoding.ASCII.GetString(buffer, (int)n).Trim();
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? $" (PID {pid})" : string.Empty;
    }
}
