using System.Globalization;
using static Tmds.Linux.LibC;

namespace PortPublisher.Service.Hosting;

/// <summary>
/// Whether the service's output goes to the journal, as systemd.exec(5) says to tell: <c>JOURNAL_STREAM</c> holds the
/// device and inode of the stream systemd connected, and it counts only if stdout or stderr is still that stream. The
/// variable alone is not enough: it is inherited by everything a service starts (a shell opened from a terminal that
/// runs as a user service has it), and such a process's output is not the journal's.
/// </summary>
internal static class JournalStream
{
    public static bool IsConnected() => IsConnected(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));

    /// <param name="journalStream">The value of JOURNAL_STREAM, <c>DEVICE:INODE</c> in decimal.</param>
    public static bool IsConnected(string? journalStream)
    {
        if (journalStream?.Split(':') is not [string d, string i]
            || !ulong.TryParse(d, NumberStyles.None, CultureInfo.InvariantCulture, out ulong device)
            || !ulong.TryParse(i, NumberStyles.None, CultureInfo.InvariantCulture, out ulong inode))
        {
            return false;
        }

        return Is(1, device, inode) || Is(2, device, inode);
    }

    private static unsafe bool Is(int fd, ulong device, ulong inode)
    {
        Tmds.Linux.stat st;
        return fstat(fd, &st) == 0 && (ulong)st.st_dev == device && (ulong)st.st_ino == inode;
    }
}
