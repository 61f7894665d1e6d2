using System.Globalization;

namespace PortPublisher.Service.Hosting;

/// <summary>The process's RLIMIT_NOFILE, which bounds how many ports it can hold (one socket each, as Docker does).</summary>
internal static class OpenFileLimit
{
    /// <summary>
    /// The soft limit, the one that applies (.NET raises it to the hard limit at start), from /proc/self/limits
    /// (proc(5): <c>Max open files  SOFT  HARD  files</c>); null if it cannot be read or is unlimited.
    /// </summary>
    public static long? Current()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    string[] f = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return f.Length > 0 && long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long soft) ? soft : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }
}
