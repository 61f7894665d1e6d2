using System.Globalization;

namespace PortPublisher.Bench;

/// <summary>The whole machine's CPU time from /proc/stat's first line, summed over every CPU, in seconds.</summary>
internal static class SystemCpu
{
    /// <summary>Kernel time: system + irq + softirq.</summary>
    public static double KernelSeconds()
    {
        double[] f = Fields();
        return f[3] + f[6] + f[7];
    }

    /// <summary>Busy time of any kind: everything but idle and iowait (user, nice, system, irq, softirq, steal).</summary>
    public static double BusySeconds()
    {
        double[] f = Fields();
        return f[1] + f[2] + f[3] + f[6] + f[7] + f[8];
    }

    // "cpu  user nice system idle iowait irq softirq steal ..." in USER_HZ (100 on Linux); index 0 is the label.
    private static double[] Fields() =>
        [0, .. File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8).Select(v => double.Parse(v, CultureInfo.InvariantCulture) / 100.0)];
}
