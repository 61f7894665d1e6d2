using System.Net.Sockets;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;
using static PortPublisher.Service.Tests.Net;

namespace PortPublisher.Service.Tests;

/// <summary>
/// `portpublisher cleanup` in a throwaway host namespace: through the running service it unpublishes; once the service
/// is stopped (its NAT'ed ports still working until then) it removes the tables and the state; and it never removes
/// tables that a live service holds.
/// </summary>
[Trait("Category", "Netns")]
public sealed class CleanupTests
{
    [Fact]
    public async Task WhileTheServiceRuns_UnpublishesEverythingThroughItAndLeavesItsTables()
    {
        await using Lab lab = await Lab.StartAsync();
        Assert.Equal(0, lab.Cli("publish", "cl-a", "--netns", lab.Container, "-p", "7901:80").Code);
        Assert.Equal(0, lab.Cli("publish", "cl-b", "--netns", lab.Container, "-p", "127.0.0.1:7902:80").Code);
        (int code, string stdout, string stderr) = lab.CliInHost("cleanup", "--state-dir", lab.StateDir);
        Assert.True(code == 0, stderr);
        Assert.Equal(
            $"unpublished cl-a\nunpublished cl-b\nportpublisherd is running: its nftables tables ip/ip6 portpublisher and state in {lab.StateDir} stay while it runs (now empty). "
            + $"Stop it (systemctl stop portpublisher, or end the portpublisherd you started), then run `portpublisher -H unix://{lab.Socket} cleanup --state-dir {lab.StateDir}` again to remove them.\n",
            stdout);
        Assert.Equal("NAME   NETNS   CARRIER   PORTS\n", lab.Cli("ls").Stdout);
        Assert.Equal("table ip portpublisher\ntable ip6 portpublisher\n", lab.InHost("nft list tables"));
    }

    [Fact]
    public async Task AfterAStop_RemovesTheTablesAndTheState_UntilThenNatStillCarries()
    {
        await using Lab lab = await Lab.StartAsync();
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        Assert.Equal(0, lab.Cli("publish", "cl-web", "--netns", lab.Container, "-p", "7903:80").Code);
        lab.StopService(kill: false);

        // What outlives a stop: the NAT'ed port keeps working.
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 7903));

        string state = Removed(lab.StateDir);
        Assert.Contains("state.", state, StringComparison.Ordinal); // the publication was saved: a snapshot, a journal or both
        (int code, string stdout, string stderr) = lab.CliInHost("cleanup", "--state-dir", lab.StateDir);
        Assert.True(code == 0, stderr);
        Assert.Equal($"removed nftables table ip portpublisher\nremoved nftables table ip6 portpublisher\n{state}removed {lab.StateDir}/\n", stdout);
        Assert.Equal(string.Empty, lab.InHost("nft list tables"));
        Assert.False(Directory.Exists(lab.StateDir));
        await Assert.ThrowsAnyAsync<SocketException>(() => Peer.AskTcp(lab.ClientNs, HostV4, 7903));

        // Nothing left: a second run says so and succeeds.
        Assert.Equal(
            (0, $"nothing to clean up: no nftables tables ip/ip6 portpublisher in this network namespace, no state in {lab.StateDir}\n"),
            (lab.CliInHost("cleanup", "--state-dir", lab.StateDir) is var again ? (again.Code, again.Stdout) : default));
    }

    /// <summary>
    /// A stop resets the route_localnet a NAT'ed 127.0.0.0/8 binding needed; a kill -9 leaves it on, guarded only by the
    /// tables' loopback guard. Cleanup turns it off before it removes the guard.
    /// </summary>
    [Fact]
    public async Task AfterAKill_ResetsRouteLocalnetBeforeRemovingTheLoopbackGuard()
    {
        await using Lab lab = await Lab.StartAsync();
        Assert.Equal(0, lab.Cli("publish", "cl-lo", "--netns", lab.Container, "-p", "127.0.0.1:7905:80", "--mode", "nat").Code);
        string link = File.ReadAllText(Path.Combine(lab.StateDir, "route_localnet")).Trim();
        string sysctl = $"/proc/sys/net/ipv4/conf/{link}/route_localnet";
        Assert.Equal("1", lab.InHost($"cat {sysctl}").Trim());
        lab.StopService(kill: true);
        Assert.Equal("1", lab.InHost($"cat {sysctl}").Trim());

        string state = Removed(lab.StateDir);
        Assert.Contains("/route_localnet\n", state, StringComparison.Ordinal);
        (int code, string stdout, string stderr) = lab.CliInHost("cleanup", "--state-dir", lab.StateDir);
        Assert.True(code == 0, stderr);
        Assert.Equal(
            $"reset net.ipv4.conf.{link}.route_localnet to 0\nremoved nftables table ip portpublisher\nremoved nftables table ip6 portpublisher\n"
            + $"{state}removed {lab.StateDir}/\nremoved stale socket {lab.Socket}\n", // a killed service leaves its socket file
            stdout);
        Assert.Equal("0", lab.InHost($"cat {sysctl}").Trim());
        Assert.Equal(string.Empty, lab.InHost("nft list tables"));
    }

    [Fact]
    public async Task WhileTheServiceRuns_RemovesSandboxesJoinersFirst()
    {
        await using Lab lab = await Lab.StartAsync(SandboxLabFixture.ServiceArgs);
        string s1 = $"{lab.Id}s1", s2 = $"{lab.Id}s2";
        try
        {
            Assert.Equal(0, lab.Cli("sandbox", "create", s1, "-p", "7906:80").Code);
            Assert.Equal(0, lab.Cli("sandbox", "create", s2, "--network", $"container:{s1}").Code);
            Assert.Equal(0, lab.Cli("publish", "cl-plain", "--netns", lab.Container, "-p", "7907:80").Code);
            (int code, string stdout, string stderr) = lab.CliInHost("cleanup", "--state-dir", lab.StateDir);
            Assert.True(code == 0, stderr + lab.Log);
            Assert.StartsWith($"removed sandbox {s2}\nremoved sandbox {s1}\nunpublished cl-plain\nportpublisherd is running: ", stdout, StringComparison.Ordinal);
            Assert.False(File.Exists($"/run/netns/{s1}"));
            Assert.False(Directory.Exists($"/etc/netns/{s1}"));
            Assert.Equal("NAME   NETNS   CARRIER   PORTS\n", lab.Cli("ls").Stdout);
            Assert.Equal("NAME", lab.Cli("sandbox", "ls").Stdout.Split(' ')[0].Trim());
        }
        finally
        {
            // /run/netns, the UTS pins and /etc/netns are this host's: nothing with the lab's prefix stays, even on a failure.
            lab.Cli("sandbox", "rm", s2, s1);
            foreach (string f in new[] { "/run/netns", "/run/portpublisher/uts" }.Where(Directory.Exists).SelectMany(d => Directory.GetFiles(d, $"{lab.Id}*")))
            {
                Shell.TrySh($"umount -l '{f}'; rm -f '{f}'");
            }

            foreach (string d in Directory.Exists("/etc/netns") ? Directory.GetDirectories("/etc/netns", $"{lab.Id}*") : [])
            {
                Directory.Delete(d, recursive: true);
            }
        }
    }

    [Fact]
    public async Task SandboxesLeftInTheState_KeepEverythingOnceTheServiceIsStopped()
    {
        await using Lab lab = await Lab.StartAsync();
        Assert.Equal(0, lab.Cli("publish", "cl-sb", "--netns", lab.Container, "-p", "7908:80").Code);
        lab.StopService(kill: false);

        // Only the service can take a sandbox apart (its namespace, veth, bridge, /etc/netns files).
        await File.WriteAllTextAsync(Path.Combine(lab.StateDir, "sandboxes.json"), """{"version": 1, "sandboxes": [{"name": "left1"}, {"name": "left2"}]}""", TestContext.Current.CancellationToken);
        string[] files = [.. Directory.GetFiles(lab.StateDir).Order(StringComparer.Ordinal)];
        (int code, string stdout, string stderr) = lab.CliInHost("cleanup", "--state-dir", lab.StateDir);
        Assert.Equal((1, string.Empty), (code, stdout));
        Assert.Equal(
            $"portpublisher: 2 sandboxes remain (left1, left2) in {lab.StateDir}, and only the service can remove them: start it, run `portpublisher -H unix://{lab.Socket} cleanup --state-dir {lab.StateDir}` (it removes them through the service), stop it and run it again; nothing was removed\n",
            stderr);
        Assert.Equal("table ip portpublisher\ntable ip6 portpublisher\n", lab.InHost("nft list tables"));
        Assert.Equal(files, Directory.GetFiles(lab.StateDir).Order(StringComparer.Ordinal));
    }

    /// <summary>The lines cleanup prints for the service's files in <paramref name="stateDir"/>, in its order, for those there now.</summary>
    private static string Removed(string stateDir)
    {
        string[] order = ["state.json", "state.json.tmp", "state.journal", "sandboxes.json", "sandboxes.json.tmp", "route_localnet", "route_localnet.tmp", "lock"];
        string[] present = [.. Directory.GetFiles(stateDir).Select(Path.GetFileName)!];
        Assert.All(present, f => Assert.Contains(f, order)); // nothing the service writes is unknown to cleanup
        return string.Concat(order.Where(present.Contains).Select(f => $"removed {stateDir}/{f}\n"));
    }

    [Fact]
    public async Task ALiveServiceThatDoesNotAnswerOnTheSocket_KeepsItsTablesAndState()
    {
        await using Lab lab = await Lab.StartAsync();
        Assert.Equal(0, lab.Cli("publish", "cl-kept", "--netns", lab.Container, "-p", "7904:80").Code);
        string[] files = [.. Directory.GetFiles(lab.StateDir).Order(StringComparer.Ordinal)];
        string other = Path.Combine(lab.Dir, "other.sock");
        (int code, string stdout, string stderr) = Shell.Run("ip", ["netns", "exec", lab.Host, .. CliCommand, "-H", $"unix://{other}", "cleanup", "--state-dir", lab.StateDir]);
        Assert.Equal((1, string.Empty), (code, stdout));
        Assert.Equal(
            $"portpublisher: a portpublisherd (PID {lab.ServicePid}) in this network namespace manages nftables table 'portpublisher' but does not answer on {other}; stop it first (or pass its socket with -H); nothing was removed\n",
            stderr);
        Assert.Equal("table ip portpublisher\ntable ip6 portpublisher\n", lab.InHost("nft list tables"));
        Assert.Equal(files, Directory.GetFiles(lab.StateDir).Order(StringComparer.Ordinal));
        Assert.Contains("cl-kept", lab.Cli("ls").Stdout, StringComparison.Ordinal);
    }
}
