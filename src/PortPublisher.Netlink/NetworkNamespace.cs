using Microsoft.Win32.SafeHandles;
using static Tmds.Linux.LibC;

namespace PortPublisher.Netlink;

/// <summary>
/// An open handle on a network namespace. Holding it keeps the namespace alive, and <see cref="Run{T}"/>
/// runs code on a dedicated thread that has entered it: sockets created there stay in that namespace for
/// their whole life, whatever thread later uses them.
/// </summary>
public sealed class NetworkNamespace : IDisposable
{
    /// <summary>Where <c>ip netns add NAME</c> bind-mounts its namespaces.</summary>
    public const string NetnsRunDir = "/run/netns";

    // _IO(0xb7, 0x3), linux/nsfs.h: which kind of namespace an nsfs file is.
    private const int NS_GET_NSTYPE = 0xb703;

    // sys/stat.h: the file-type bits of st_mode, and a regular file's.
    private const uint S_IFMT = 0xF000;
    private const uint S_IFREG = 0x8000;

    private readonly SafeFileHandle _handle;

    private NetworkNamespace(SafeFileHandle handle, string path, (ulong, ulong) identity)
    {
        _handle = handle;
        Path = path;
        Identity = identity;
    }

    /// <summary>The path it was opened from.</summary>
    public string Path { get; }

    /// <summary>(device, inode) of the namespace: equal identities are the same namespace.</summary>
    public (ulong Device, ulong Inode) Identity { get; }

    /// <summary>The open nsfs file (IFLA_NET_NS_FD takes it to create a link inside this namespace).</summary>
    internal SafeFileHandle Handle => _handle;

    /// <summary>
    /// Opens a namespace by <c>ip netns</c> name (looked up in /run/netns) or by path
    /// (<c>/proc/PID/ns/net</c>, a bind mount). Anything but a network namespace is refused.
    /// </summary>
    /// <exception cref="NetworkNamespaceNotFoundException">No such namespace.</exception>
    public static NetworkNamespace Open(string nameOrPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrPath);
        string path = nameOrPath.Contains('/', StringComparison.Ordinal)
            ? nameOrPath
            : System.IO.Path.Combine(NetnsRunDir, nameOrPath);
        // Look before opening: open(2) of a FIFO, a device or a file on a hung mount can block for ever, while an
        // nsfs inode never does. nsfs files are regular files on the one nsfs superblock, whose device the service's
        // own namespace file shows.
        CheckIsNamespaceFile(nameOrPath, path);
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException)
        {
            throw new NetworkNamespaceNotFoundException($"network namespace '{nameOrPath}' cannot be opened ({path}): {e.Message}", e);
        }

        int fd = (int)handle.DangerousGetHandle();
        if (ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
        {
            handle.Dispose();
            throw new NetworkNamespaceNotFoundException($"'{path}' is not a network namespace");
        }

        (ulong, ulong) identity;
        unsafe
        {
            Tmds.Linux.stat st;
            identity = fstat(fd, &st) == 0 ? ((ulong)st.st_dev, (ulong)st.st_ino) : (0UL, 0UL);
        }

        return new NetworkNamespace(handle, path, identity);
    }

    private static unsafe void CheckIsNamespaceFile(string nameOrPath, string path)
    {
        Tmds.Linux.stat st, self;
        int r;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(path + "\0"))
        {
            r = stat(p, &st);
        }

        if (r != 0)
        {
            int error = errno;
            throw new NetworkNamespaceNotFoundException(error == ENOENT
                ? nameOrPath.Contains('/', StringComparison.Ordinal)
                    ? $"no such network namespace '{nameOrPath}': the path does not exist"
                    : $"no such network namespace '{nameOrPath}': {path} does not exist (see `ip netns list`)"
                : $"network namespace '{nameOrPath}' cannot be opened ({path}): {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(error)}");
        }

        fixed (byte* p = "/proc/self/ns/net\0"u8)
        {
            r = stat(p, &self);
        }

        if (((uint)st.st_mode & S_IFMT) != S_IFREG || (r == 0 && st.st_dev != self.st_dev))
        {
            throw new NetworkNamespaceNotFoundException($"'{path}' is not a network namespace (not an nsfs file such as /run/netns/NAME or /proc/PID/ns/net)");
        }
    }

    /// <summary>The namespace of the calling thread.</summary>
    public static NetworkNamespace Current() => Open("/proc/thread-self/ns/net");

    /// <summary>Runs <paramref name="func"/> on a fresh thread inside this namespace and returns its result.</summary>
    public T Run<T>(Func<T> func)
    {
        ArgumentNullException.ThrowIfNull(func);
        T result = default!;
        Exception? error = null;

        // The thread exits when func returns, so its changed namespace never leaks to other work.
        var thread = new Thread(() =>
        {
            try
            {
                Enter();
                result = func();
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        {
            IsBackground = true,
            Name = "netns-run",
        };
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
        }

        return result;
    }

    /// <summary>Moves the calling thread into this namespace. Only for threads dedicated to it.</summary>
    public void Enter()
    {
        bool added = false;
        _handle.DangerousAddRef(ref added);
        try
        {
            if (setns((int)_handle.DangerousGetHandle(), CLONE_NEWNET) != 0)
            {
                throw new NetlinkException(errno, $"setns({Path})");
            }
        }
        finally
        {
            if (added)
            {
                _handle.DangerousRelease();
            }
        }
    }

    public void Dispose() => _handle.Dispose();
}
