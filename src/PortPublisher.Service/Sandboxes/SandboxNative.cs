using System.Runtime.InteropServices;

namespace PortPublisher.Service.Sandboxes;

/// <summary>The mount and namespace calls of libc that Tmds.LibC lacks, with the constants of <c>sys/mount.h</c> and <c>sched.h</c>.</summary>
internal static partial class SandboxNative
{
    public const int CLONE_FS = 0x00000200;
    public const int CLONE_NEWNS = 0x00020000;
    public const int CLONE_NEWUTS = 0x04000000;
    public const int CLONE_NEWNET = 0x40000000;

    public const ulong MS_BIND = 4096;
    public const ulong MS_REC = 16384;
    public const ulong MS_SHARED = 1 << 20;

    public const int MNT_DETACH = 2;

    public const int EINVAL = 22;
    public const int ENOENT = 2;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string? source, string target, string? filesystemtype, ulong mountflags, IntPtr data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int unshare(int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc")]
    public static partial uint umask(uint mask);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int sethostname(string name, nuint len);

    /// <summary>Throws an <see cref="IOException"/> naming the call and errno when <paramref name="rc"/> is negative.</summary>
    public static void Check(int rc, string what)
    {
        if (rc < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }
}
