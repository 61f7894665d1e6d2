using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>Makes the test's namespaces, or skips the test with the reason it cannot.</summary>
internal static class Namespaces
{
    public static ThreeNamespaces HostOnly()
    {
        RequirePrivileges();
        return ThreeNamespaces.CreateHostOnly();
    }

    public static ThreeNamespaces All()
    {
        RequirePrivileges();
        return ThreeNamespaces.Create();
    }

    private static void RequirePrivileges()
    {
        if (!Shell.IsRoot)
        {
            Assert.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces; CI runs as root");
        }

        foreach (string tool in new[] { "ip", "nft" })
        {
            if (Shell.Run("/bin/sh", ["-c", $"command -v {tool}"]).Code != 0)
            {
                Assert.Skip($"needs {tool} (Debian packages iproute2, nftables; scripts/test.sh installs them)");
            }
        }
    }
}
