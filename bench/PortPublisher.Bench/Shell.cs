using System.Diagnostics;

namespace PortPublisher.Bench;

internal static class Shell
{
    public static string Sh(string command)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{command}` exited {p.ExitCode}: {stderr}");
        }

        return stdout;
    }

    /// <summary>Wall time of one command, process start included (that is the peer's real cost).</summary>
    public static double TimeMs(string command)
    {
        var sw = Stopwatch.StartNew();
        Sh(command);
        return sw.Elapsed.TotalMilliseconds;
    }

    public static double Median(List<double> xs)
    {
        xs.Sort();
        return xs.Count % 2 == 1 ? xs[xs.Count / 2] : (xs[(xs.Count / 2) - 1] + xs[xs.Count / 2]) / 2;
    }
}
