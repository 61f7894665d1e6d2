using System.Diagnostics;

namespace PortPublisher.Bench;

internal static class Shell
{
    public static string Sh(string command) => Sh(command, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// Runs <paramref name="command"/> under /bin/sh; throws when it exits non-zero or outlives <paramref name="timeout"/>
    /// (then its whole process tree is killed first, so a wedged peer or load generator cannot stall a benchmark).
    /// </summary>
    public static string Sh(string command, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(5000);
            throw new InvalidOperationException($"`{command}` did not end within {timeout.TotalSeconds:F0} s (killed)");
        }

        p.WaitForExit(); // the redirected streams are complete only after the parameterless wait
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{command}` exited {p.ExitCode}: {stderr.Result}{(stderr.Result.Length == 0 ? stdout.Result : string.Empty)}");
        }

        return stdout.Result;
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
