using System.Diagnostics;
using PortPublisher.Netlink;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// A throwaway network namespace with only lo, up (<c>pp</c> + 6 hex + a tag per test class), deleted on dispose even
/// when the test failed. Without root the test is skipped, with the reason.
/// </summary>
internal sealed class LoopbackNamespace : IDisposable
{
    private static readonly TimeSpan s_commandDeadline = TimeSpan.FromSeconds(30);

    private LoopbackNamespace(string name, NetworkNamespace ns)
    {
        Name = name;
        Namespace = ns;
    }

    public string Name { get; }

    public NetworkNamespace Namespace { get; }

    public static LoopbackNamespace Create(char tag)
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("needs root (CAP_SYS_ADMIN) to create a network namespace; CI runs as root");
        }

        string name = $"pp{Random.Shared.Next(0x1000000):x6}{tag}";
        try
        {
            Run($"ip netns add {name}");
            Run($"ip -n {name} link set lo up");
            return new LoopbackNamespace(name, NetworkNamespace.Open(name));
        }
        catch
        {
            Delete(name);
            throw;
        }
    }

    /// <summary>Runs a shell command (for the namespace: <c>ip -n NAME …</c>); throws with its stderr when it fails or outlives its deadline.</summary>
    public static void Run(string command)
    {
        using Process p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command]) { RedirectStandardError = true })!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(s_commandDeadline))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{command}` did not finish in {s_commandDeadline.TotalSeconds:F0} s");
        }

        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"`{command}` failed: {err.Result}");
        }
    }

    public void Dispose()
    {
        Namespace.Dispose();
        Delete(Name);
    }

    private static void Delete(string name)
    {
        if (File.Exists(Path.Combine(NetworkNamespace.NetnsRunDir, name)))
        {
            Run($"ip netns del {name}");
        }
    }
}
