using System.Globalization;

namespace PortPublisher.Service.Tests;

/// <summary>What /proc says of a process: open descriptors, resident memory, CPU time.</summary>
internal static class Proc
{
    // USER_HZ: /proc/PID/stat counts in units of 1/100 s on every architecture Linux exports it for (proc(5)).
    private const double TicksPerSecond = 100;

    public static int FdCount(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>VmRSS of /proc/PID/status, in KiB.</summary>
    public static long RssKib(int pid) => StatusKib(pid, "VmRSS");

    /// <summary>A KiB field of /proc/PID/status: VmRSS, RssAnon (heap, stacks), RssFile (mapped files: code).</summary>
    public static long StatusKib(int pid, string field)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException($"no {field} in /proc/{pid}/status");
    }

    /// <summary>utime + stime of /proc/PID/stat (all threads), in seconds.</summary>
    public static double CpuSeconds(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // the command may hold spaces; fields restart after it
        return (long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }
}
