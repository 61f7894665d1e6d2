using System.Globalization;

namespace PortPublisher.Bench;

/// <summary>RSS and CPU time of a process and all its descendants, from /proc.</summary>
internal static class ProcessStats
{
    public static long RssBytes(int pid) => Tree(pid).Sum(p => StatusKb(p, "VmRSS:") * 1024);

    /// <summary>Proportional set size: shared pages split between the processes that map them (fair for forking peers).</summary>
    public static long PssBytes(int pid) => Tree(pid).Sum(p => RollupKb(p, "Pss:") * 1024);

    public static double CpuSeconds(int pid) => Tree(pid).Sum(p =>
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{p}/stat");
            string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (double.Parse(f[11], CultureInfo.InvariantCulture) + double.Parse(f[12], CultureInfo.InvariantCulture)) / 100.0; // utime + stime in 100 Hz ticks
        }
        catch (IOException)
        {
            return 0;
        }
    });

    public static int Count(int pid) => Tree(pid).Count;

    /// <summary>Voluntary context switches (a thread blocked: in epoll_wait, on a futex…) of every thread of the tree.</summary>
    public static long VoluntarySwitches(int pid) => Tree(pid).Sum(p => SafeDirs($"/proc/{p}/task").Sum(t => StatusKb(t, "voluntary_ctxt_switches:")));

    private static List<int> Tree(int pid)
    {
        var all = new List<int> { pid };
        for (int i = 0; i < all.Count; i++)
        {
            foreach (string task in SafeDirs($"/proc/{all[i]}/task"))
            {
                string children = SafeRead(Path.Combine(task, "children"));
                all.AddRange(children.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => int.Parse(c, CultureInfo.InvariantCulture)));
            }
        }

        return [.. all.Distinct()];
    }

    private static long StatusKb(int pid, string key) => Kb(SafeRead($"/proc/{pid}/status"), key);

    private static long StatusKb(string taskDir, string key) => Kb(SafeRead(Path.Combine(taskDir, "status")), key);

    private static long RollupKb(int pid, string key) => Kb(SafeRead($"/proc/{pid}/smaps_rollup"), key);

    private static long Kb(string text, string key)
    {
        foreach (string line in text.Split('\n'))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                return long.Parse(line[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private static string SafeRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return string.Empty;
        }
        catch (UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    private static string[] SafeDirs(string path)
    {
        try
        {
            return Directory.GetDirectories(path);
        }
        catch (IOException)
        {
            return [];
        }
    }
}
