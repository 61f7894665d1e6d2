using System.Net;
using PortPublisher.Netlink.Nft;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>The sandboxes' masquerade table, read back with nft as the oracle.</summary>
[Trait("Category", "Netns")]
public sealed class SandboxMasqueradeTests
{
    [Fact]
    public void Install_IsDockersMasqueradeRule_OwnedAndReplacedWhole()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using (var masq = new SandboxMasquerade(t.HostNs))
        {
            masq.Install(new IPNetwork(IPAddress.Parse("172.30.0.0"), 16), "ppt0");
            string listed = t.Exec(t.Host, "nft list table ip portpublisher-sandbox");
            Assert.Contains("type nat hook postrouting priority srcnat; policy accept;", listed, StringComparison.Ordinal);
            Assert.Contains("ip saddr 172.30.0.0/16 oifname != \"ppt0\" masquerade", listed, StringComparison.Ordinal);

            // Replaced, not appended: one rule.
            masq.Install(new IPNetwork(IPAddress.Parse("172.31.0.0"), 16), "ppt1");
            listed = t.Exec(t.Host, "nft list table ip portpublisher-sandbox");
            Assert.DoesNotContain("172.30.0.0", listed, StringComparison.Ordinal);
            Assert.Contains("ip saddr 172.31.0.0/16 oifname != \"ppt1\" masquerade", listed, StringComparison.Ordinal);

            if (masq.Owned)
            {
                // Another writer's flush leaves an owned table alone.
                t.Exec(t.Host, "nft flush ruleset");
                Assert.Contains("172.31.0.0/16", t.Exec(t.Host, "nft list table ip portpublisher-sandbox"), StringComparison.Ordinal);
            }
        }

        // The socket is closed (a restart): a new one takes the orphaned table over and replaces it.
        using (var again = new SandboxMasquerade(t.HostNs))
        {
            again.Install(new IPNetwork(IPAddress.Parse("172.30.0.0"), 16), "ppt0");
            Assert.Contains("ip saddr 172.30.0.0/16", t.Exec(t.Host, "nft list table ip portpublisher-sandbox"), StringComparison.Ordinal);
            again.Remove();
            again.Remove(); // already gone: fine
        }

        Assert.DoesNotContain("portpublisher-sandbox", t.Exec(t.Host, "nft list tables"), StringComparison.Ordinal);
    }
}
