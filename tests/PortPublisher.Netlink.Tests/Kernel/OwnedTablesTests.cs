using System.Net;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.TestKit.ThreeNamespaces;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>
/// Tables owned by the backend's socket (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST): other tools cannot remove them
/// while it lives, they outlive it, and a new socket adopts them without touching chains or elements.
/// </summary>
[Trait("Category", "Netns")]
public class OwnedTablesTests
{
    private static readonly NftablesOptions s_owned = new() { Owned = true };

    private static readonly NatBinding[] s_bindings =
    [
        new(null, Protocol.Tcp, 9090, IPAddress.Parse(ContainerV4), 80),
        new(IPAddress.Parse(HostV6), Protocol.Tcp, 8080, IPAddress.Parse(ContainerV6), 80),
    ];

    [Fact]
    public void WhileTheOwnerLives_FlushRulesetAndDeleteTableLeaveTheTables()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs, s_owned);
        backend.InstallOrReplace(s_bindings);
        Assert.True(backend.Owns, backend.OwnershipUnavailable);

        t.Exec(t.Host, "nft flush ruleset");
        (int code, string output) = Run(t.Host, "nft delete table ip portpublisher");
        Assert.NotEqual(0, code);
        Assert.Contains("Operation not permitted", output, StringComparison.Ordinal);
        Assert.Equal(RulesetState.InSync, backend.Check(s_bindings).State);

        // Another socket, even with our own codec, can neither replace nor adopt them.
        using var other = new NftablesBackend(t.HostNs, s_owned);
        Assert.Equal(1, Assert.Throws<NetlinkException>(() => other.InstallOrReplace([])).Errno);
        Assert.Equal(1, Assert.Throws<NetlinkException>(() => other.Adopt()).Errno);
        Assert.Equal(RulesetState.InSync, backend.Check(s_bindings).State);
    }

    [Fact]
    public void AfterTheOwnerCloses_TheTablesStayAndANewSocketAdoptsThemWithoutATransactionOnTheirContents()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using (var first = new NftablesBackend(t.HostNs, s_owned))
        {
            first.InstallOrReplace(s_bindings);
        }

        using var second = new NftablesBackend(t.HostNs, s_owned);
        Assert.Equal(RulesetState.InSync, second.Check(s_bindings).State);
        string rulesBefore = Handles(t);
        Assert.True(second.Adopt());
        Assert.True(second.Owns);

        // Same handles: nothing was re-created, so established connections never noticed.
        Assert.Equal(rulesBefore, Handles(t));
        t.Exec(t.Host, "nft flush ruleset");
        Assert.Equal(RulesetState.InSync, second.Check(s_bindings).State);
        second.Apply([new NatBinding(null, Protocol.Udp, 5353, IPAddress.Parse(ContainerV4), 53)], []);
        Assert.Equal(3, second.ReadBindings().Count);
    }

    [Fact]
    public void PlainTablesOfAnEarlierVersion_CannotBeAdoptedButAreReplacedByOwnedOnes()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using (var plain = new NftablesBackend(t.HostNs))
        {
            plain.InstallOrReplace(s_bindings);
        }

        using var backend = new NftablesBackend(t.HostNs, s_owned);
        Assert.False(backend.Adopt());
        Assert.False(backend.Owns);
        backend.InstallOrReplace(s_bindings);
        Assert.True(backend.Owns);
        t.Exec(t.Host, "nft flush ruleset");
        Assert.Equal(RulesetState.InSync, backend.Check(s_bindings).State);
    }

    [Fact]
    public void WithoutOwned_TheTablesArePlainAsBefore()
    {
        using ThreeNamespaces t = Namespaces.HostOnly();
        using var backend = new NftablesBackend(t.HostNs);
        backend.InstallOrReplace(s_bindings);
        Assert.False(backend.Owns);
        t.Exec(t.Host, "nft flush ruleset");
        Assert.Equal(RulesetState.Missing, backend.Check(s_bindings).State);
    }

    /// <summary>Every chain, map and rule with its handle; the table lines (whose flags change) left out.</summary>
    private static string Handles(ThreeNamespaces t) =>
        string.Join('\n', t.Exec(t.Host, "nft -a list ruleset").Split('\n').Where(l => l.Contains("# handle", StringComparison.Ordinal) && !l.StartsWith("table", StringComparison.Ordinal)));

    private static (int Code, string Output) Run(string ns, string command)
    {
        var r = Shell.Run("ip", ["netns", "exec", ns, "sh", "-c", command + " 2>&1"]);
        return (r.Code, r.Stdout);
    }
}
