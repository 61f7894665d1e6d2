using Xunit;

namespace PortPublisher.Cni.Tests;

/// <summary>What the kernel tests need before they can start.</summary>
public static class Root
{
    public static void Require(params string[] tools)
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces and program nftables in them; CI runs as root");
        }

        foreach (string tool in tools.Prepend("ip").Prepend("nft"))
        {
            if (!new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" }.Any(d => File.Exists(Path.Combine(d, tool))))
            {
                Assert.Skip($"needs {tool} (scripts/test.sh installs it)");
            }
        }
    }
}
