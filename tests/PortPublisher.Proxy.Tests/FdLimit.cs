using System.Runtime.InteropServices;

namespace PortPublisher.Proxy.Tests;

/// <summary>RLIMIT_NOFILE, for tests that hold thousands of sockets (Tmds.LibC has no getrlimit).</summary>
internal static unsafe partial class FdLimit
{
    private const int RLIMIT_NOFILE = 7;

    /// <summary>Raises the soft limit to the hard one when it is below <paramref name="needed"/>; false if even the hard one is.</summary>
    public static bool Ensure(ulong needed)
    {
        ulong* limit = stackalloc ulong[2]; // struct rlimit { rlim_t rlim_cur, rlim_max; }
        if (getrlimit(RLIMIT_NOFILE, limit) != 0)
        {
            return false;
        }

        if (limit[0] >= needed)
        {
            return true;
        }

        if (limit[1] < needed)
        {
            return false;
        }

        limit[0] = limit[1];
        return setrlimit(RLIMIT_NOFILE, limit) == 0;
    }

    [LibraryImport("libc")]
    private static partial int getrlimit(int resource, ulong* limit);

    [LibraryImport("libc")]
    private static partial int setrlimit(int resource, ulong* limit);
}
