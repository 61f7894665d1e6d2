using System.Net;
using System.Net.Sockets;
using Xunit;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The state directory on a 64 KiB tmpfs, filled up or remounted read-only under the running service: a publish must
/// fail with a message naming the state directory and change nothing (no element, no listener, no reserved port, the
/// same `ls` and state file). Writing state first is the service's promise; this is what happens when it cannot.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class StateDirectoryTests
{
    private static readonly TimeSpan s_cliDeadline = TimeSpan.FromSeconds(15);

    [Theory]
    [InlineData("full")]
    [InlineData("read-only")]
    public async Task UnwritableStateDirectory_PublishFailsNamingItAndChangesNothing(string how)
    {
        await using Lab lab = await Lab.StartAsync();
        lab.StopService(kill: false);

        // Mounted before the service starts: `ip netns exec` gives it a copy of the mount table, which shares this
        // tmpfs's superblock, so filling or remounting it here is what the service sees.
        Sh($"mount -t tmpfs -o size=64k,mode=0700 {lab.Id}-state {lab.StateDir}");
        try
        {
            await lab.StartServiceAsync();
            Assert.Equal(0, lab.Cli(s_cliDeadline, "publish", "before", "--netns", lab.Container, "-p", "7800:80").Code);
            if (how == "full")
            {
                TrySh($"dd if=/dev/zero of={lab.StateDir}/filler bs=4096 2>/dev/null");
            }
            else
            {
                Sh($"mount -o remount,ro {lab.StateDir}");
            }

            // The precondition, seen from the service's own mount namespace: nothing can be written there.
            Assert.NotEqual(0, Run("nsenter", ["-t", $"{lab.ServicePid}", "-m", "--", "sh", "-c", $"echo probe > {lab.StateDir}/probe"]).Code);

            byte[] state = Saved(lab);
            string ls = lab.Cli("ls", "--json").Stdout;
            string ruleset = lab.InHost("nft -s list ruleset");
            // 100 ports two apart (saved one entry each: a range would be one run) make the journal record longer than
            // the slack in the journal's last page: the append needs new blocks on the full disk (a small record that
            // fits the slack is written, and rightly succeeds).
            string[] spread = [.. Enumerable.Range(0, 100).SelectMany(i => new[] { "-p", $"{7810 + (2 * i)}:80" })];
            (int code, string stdout, string stderr) = lab.Cli(s_cliDeadline, ["publish", "after", "--netns", lab.Container, "-p", "7801:80", "-p", "127.0.0.1:7802:80", "-p", "7803:53/udp", .. spread]);

            Assert.True(code == 1, $"publish exited {code}: {stdout}{stderr}");
            Assert.Contains(lab.StateDir, stderr, StringComparison.Ordinal);
            Assert.Equal(ruleset, lab.InHost("nft -s list ruleset"));
            Assert.Equal(ls, lab.Cli("ls", "--json").Stdout);
            Assert.Equal(state, Saved(lab));
            Assert.Equal(1, lab.Cli(s_cliDeadline, "port", "after").Code);

            // No listener and no reservation is left: each port binds again without SO_REUSEADDR.
            foreach ((IPAddress address, int port, ProtocolType protocol) in new[]
            {
                (IPAddress.Any, 7801, ProtocolType.Tcp), (IPAddress.IPv6Any, 7801, ProtocolType.Tcp),
                (IPAddress.Loopback, 7802, ProtocolType.Tcp), (IPAddress.Any, 7803, ProtocolType.Udp), (IPAddress.IPv6Any, 7803, ProtocolType.Udp),
            })
            {
                using Socket s = lab.HostNs.Run(() => new Socket(address.AddressFamily, protocol == ProtocolType.Tcp ? SocketType.Stream : SocketType.Dgram, protocol));
                s.Bind(new IPEndPoint(address, port));
            }

            // The service itself goes on: what it has still answers through its writer.
            Assert.Equal("0.0.0.0:7800\n[::]:7800\n", lab.Cli(s_cliDeadline, "port", "before", "80").Stdout);
        }
        finally
        {
            lab.StopService(kill: true); // its mount namespace, holding a copy of the mount, goes with it
            TrySh($"umount {lab.StateDir}");
        }
    }

    [Fact]
    public async Task ReadOnlyStateDirectoryAtStart_TheServiceStartsServesReadsAndRefusesEveryChangeNamingIt()
    {
        await using Lab lab = await Lab.StartAsync();
        lab.StopService(kill: false);
        Sh($"mount -t tmpfs -o size=64k,mode=0700 {lab.Id}-state {lab.StateDir}");
        try
        {
            await lab.StartServiceAsync();
            Assert.Equal(0, lab.Cli(s_cliDeadline, "publish", "kept", "--netns", lab.Container, "-p", "7810:80").Code);
            lab.StopService(kill: false);
            Sh($"mount -o remount,ro {lab.StateDir}");

            await lab.StartServiceAsync();
            Assert.Equal("0.0.0.0:7810\n[::]:7810\n", lab.Cli(s_cliDeadline, "port", "kept", "80").Stdout);
            (int code, _, string stderr) = lab.Cli(s_cliDeadline, "publish", "new", "--netns", lab.Container, "-p", "7811:80");
            Assert.Equal(1, code);
            Assert.Contains(lab.StateDir, stderr, StringComparison.Ordinal);
            (code, _, stderr) = lab.Cli(s_cliDeadline, "unpublish", "kept");
            Assert.Equal(1, code);
            Assert.Contains(lab.StateDir, stderr, StringComparison.Ordinal);
            Assert.Equal("0.0.0.0:7810\n[::]:7810\n", lab.Cli(s_cliDeadline, "port", "kept", "80").Stdout);
        }
        finally
        {
            lab.StopService(kill: true);
            TrySh($"umount {lab.StateDir}");
        }
    }

    /// <summary>The snapshot and the journal, as one byte string: what a restart would read.</summary>
    private static byte[] Saved(Lab lab) =>
        [.. new[] { "state.json", "state.journal" }.Select(f => Path.Combine(lab.StateDir, f)).Where(File.Exists).SelectMany(File.ReadAllBytes)];
}
