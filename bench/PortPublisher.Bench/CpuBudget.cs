using System.Globalization;

namespace PortPublisher.Bench;

/// <summary>
/// A CPU cgroup of its own for one peer, so every proxy can be held to the same CPU budget: on a 2-core machine the
/// load generator and the servers otherwise saturate the cores first and hide what the proxy itself can carry.
/// cgroup v1 (cpu controller) or v2 (cpu.max); removed on dispose. Null where neither is usable.
/// </summary>
internal sealed class CpuBudget : IDisposable
{
    private const int PeriodUs = 100_000;
    private readonly string _dir;
    private readonly bool _v2;

    private CpuBudget(string dir, bool v2)
    {
        _dir = dir;
        _v2 = v2;
    }

    public static CpuBudget? TryCreate(string name)
    {
        try
        {
            if (Directory.Exists("/sys/fs/cgroup/cpu") && File.Exists("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
            {
                string dir = Path.Combine("/sys/fs/cgroup/cpu", name);
                Directory.CreateDirectory(dir);
                File.WriteAllText(Path.Combine(dir, "cpu.cfs_period_us"), PeriodUs.ToString(CultureInfo.InvariantCulture));
                return new CpuBudget(dir, v2: false);
            }

            if (File.Exists("/sys/fs/cgroup/cgroup.subtree_control") && File.ReadAllText("/sys/fs/cgroup/cgroup.subtree_control").Contains("cpu", StringComparison.Ordinal))
            {
                string dir = Path.Combine("/sys/fs/cgroup", name);
                Directory.CreateDirectory(dir);
                return new CpuBudget(dir, v2: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"no CPU cgroup ({e.Message}): the capped columns are skipped");
        }

        return null;
    }

    /// <summary>Moves the processes (with all their threads) into the group.</summary>
    public void Add(IEnumerable<int> pids)
    {
        foreach (int pid in pids)
        {
            File.WriteAllText(Path.Combine(_dir, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>Limits the group to <paramref name="cpus"/> CPUs (0.5: half of one); null lifts the limit.</summary>
    public void Limit(double? cpus)
    {
        if (_v2)
        {
            File.WriteAllText(Path.Combine(_dir, "cpu.max"), cpus is { } c ? string.Create(CultureInfo.InvariantCulture, $"{(int)(c * PeriodUs)} {PeriodUs}") : $"max {PeriodUs}");
        }
        else
        {
            File.WriteAllText(Path.Combine(_dir, "cpu.cfs_quota_us"), cpus is { } c ? ((int)(c * PeriodUs)).ToString(CultureInfo.InvariantCulture) : "-1");
        }
    }

    public void Dispose()
    {
        try
        {
            Limit(null);
            string parent = Path.GetDirectoryName(_dir)!;
            foreach (string pid in File.ReadAllLines(Path.Combine(_dir, "cgroup.procs")))
            {
                try
                {
                    File.WriteAllText(Path.Combine(parent, "cgroup.procs"), pid);
                }
                catch (IOException)
                {
                    // ESRCH: it exited meanwhile (a forking peer's children end with their connections).
                }
            }

            for (int i = 0; i < 50 && Directory.Exists(_dir); i++)
            {
                try
                {
                    Directory.Delete(_dir);
                }
                catch (IOException) when (i < 49)
                {
                    Thread.Sleep(100); // EBUSY until the last exiting task has left
                }
            }
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"could not remove cgroup {_dir}: {e.Message}");
        }
    }
}
