using System.Globalization;

namespace PortPublisher.Bench;

/// <summary>The whole machine's kernel CPU time (system + irq + softirq of every CPU) from /proc/stat, in seconds.</summary>
internal static class SystemCpu
{
    public static double KernelSeconds()
    {
        // "cpu  user nice system idle iowait irq softirq steal ..." in USER_HZ (100 on Linux).
        string first = File.ReadLines("/proc/stat").First();
        string[] f = first.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        double Field(int i) => double.Parse(f[i], CultureInfo.InvariantCulture);
        return (Field(3) + Field(6) + Field(7)) / 100.0;
    }
}
