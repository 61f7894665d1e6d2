using System.Runtime.InteropServices;

namespace PortPublisher.Cni.Direct;

/// <summary>flock(2), which Tmds.LibC does not bind, with the kernel's names for its flags.</summary>
internal static partial class FileLockNative
{
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;

    /// <summary>0, or -1 with the error in <see cref="Marshal.GetLastPInvokeError"/>.</summary>
    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    public static partial int flock(int fd, int operation);
}
