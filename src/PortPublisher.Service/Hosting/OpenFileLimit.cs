using System.Runtime.InteropServices;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// Raises the soft RLIMIT_NOFILE to the hard limit at start, as Go programs and dockerd do: every published port holds
/// a socket (a 10,000-port range on both families is 20,000 fds), and the soft default of 1024 is a legacy of
/// select(2), which nothing here uses.
/// </summary>
internal static partial class OpenFileLimit
{
    private const int RLIMIT_NOFILE = 7;

    /// <summary>The soft and hard limits after raising; null if they could not be read.</summary>
    public static (ulong Soft, ulong Hard)? Raise()
    {
        if (getrlimit(RLIMIT_NOFILE, out Rlimit limit) != 0)
        {
            return null;
        }

        if (limit.Current < limit.Max)
        {
            var raised = new Rlimit { Current = limit.Max, Max = limit.Max };
            if (setrlimit(RLIMIT_NOFILE, in raised) == 0)
            {
                limit = raised;
            }
        }

        return (limit.Current, limit.Max);
    }

    /// <summary>The current soft and hard limits, for <c>status</c>.</summary>
    public static (ulong Soft, ulong Hard)? Read() => getrlimit(RLIMIT_NOFILE, out Rlimit limit) == 0 ? (limit.Current, limit.Max) : null;

    [StructLayout(LayoutKind.Sequential)]
    private struct Rlimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out Rlimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, in Rlimit limit);
}
