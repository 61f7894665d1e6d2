using System.Diagnostics;
using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>
/// The built <c>portpublisher-cni</c> run as a runtime runs it: inside a namespace (<c>ip netns exec</c>), the CNI_*
/// variables in a clean environment (no DOTNET_ROOT), the configuration on stdin, under a deadline.
/// </summary>
public static class PluginProcess
{
    private static readonly string s_root = FindRepoRoot();

    public static string RepoRoot => s_root;

    public static string Configuration => new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;

    /// <summary>The plugin executable: <c>PORTPUBLISHER_CNI_BIN</c> (a NativeAOT build) if set, else this build's apphost.</summary>
    public static string Binary => Environment.GetEnvironmentVariable("PORTPUBLISHER_CNI_BIN") is { Length: > 0 } bin
        ? bin
        : Path.Combine(s_root, "src", "PortPublisher.Cni", "bin", Configuration, "net10.0", "portpublisher-cni");

    public static string ServiceDll => Path.Combine(s_root, "src", "PortPublisher.Service", "bin", Configuration, "net10.0", "portpublisherd.dll");

    public static string CliDll => Path.Combine(s_root, "src", "PortPublisher.Cli", "bin", Configuration, "net10.0", "portpublisher.dll");

    public static Harness.Outcome Run(string netns, IDictionary<string, string> env, string stdin, int timeoutMs = 150_000)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", netns, Binary])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
        foreach ((string k, string v) in env)
        {
            psi.Environment[k] = v;
        }

        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"portpublisher-cni {env["CNI_COMMAND"]} did not finish in {timeoutMs} ms");
        }

        return new Harness.Outcome(p.ExitCode, o.Result, e.Result);
    }

    /// <summary>Asserts success (exit 0) and returns the outcome.</summary>
    public static Harness.Outcome Ok(string netns, IDictionary<string, string> env, string stdin)
    {
        Harness.Outcome r = Run(netns, env, stdin);
        Assert.True(r.Code == 0, $"{env["CNI_COMMAND"]} failed: {r}");
        return r;
    }

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("PortPublisher.sln not found above the test binaries");
    }
}
