using System.Diagnostics;

namespace PortPublisher.TestKit;

/// <summary>Runs commands for tests (iproute2, nft, the project's own binaries), with a time limit.</summary>
public static class Shell
{
    public static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, int timeoutMs = 30_000)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (KeyValuePair<string, string> kv in env ?? new Dictionary<string, string>())
        {
            psi.Environment[kv.Key] = kv.Value;
        }

        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{file} {string.Join(' ', args)}` did not finish in {timeoutMs} ms");
        }

        return (p.ExitCode, o.Result, e.Result);
    }

    /// <summary>A shell command that must succeed; its stdout.</summary>
    public static string Sh(string command)
    {
        (int code, string stdout, string stderr) = Run("/bin/sh", ["-c", command]);
        return code == 0 ? stdout : throw new InvalidOperationException($"`{command}` exited {code}: {stderr.Trim()}");
    }

    public static void TrySh(string command)
    {
        try
        {
            Run("/bin/sh", ["-c", command]);
        }
        catch (TimeoutException)
        {
        }
    }

    public static bool IsRoot => Tmds.Linux.LibC.geteuid() == 0;
}
