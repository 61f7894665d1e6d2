using System.Runtime.InteropServices;

namespace PortPublisher.Cli;

/// <summary>The libc calls <c>portpublisher exec</c> makes, with the constants of <c>sched.h</c>, <c>sys/mount.h</c> and <c>fcntl.h</c>.</summary>
internal static partial class ExecNative
{
    public const int CLONE_NEWNS = 0x00020000;
    public const int CLONE_NEWUTS = 0x04000000;
    public const int CLONE_NEWNET = 0x40000000;
    public const ulong MS_RDONLY = 1;
    public const ulong MS_BIND = 4096;
    public const ulong MS_REC = 16384;
    public const ulong MS_SLAVE = 1 << 19;
    public const int MNT_DETACH = 2;
    public const int O_RDONLY = 0;
    public const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setns(int fd, int nstype);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int unshare(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mount(string? source, string target, string? filesystemtype, ulong mountflags, IntPtr data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int umount2(string target, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int execve(string path, IntPtr[] argv, IntPtr[] envp);

    [LibraryImport("libc")]
    public static partial uint geteuid();

    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
