using System.Diagnostics;
using System.Globalization;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// portpublisherd under exactly the capabilities deploy/portpublisher.service gives it, emulated with setpriv: an
/// unprivileged user holding the unit's CapabilityBoundingSet and AmbientCapabilities, with no_new_privs, inside a
/// throwaway host namespace. Both kinds of target must work, a <c>/proc/PID/ns/net</c> of a process in another
/// namespace and an <c>ip netns</c> name; and without CAP_SYS_PTRACE the first must fail, which is why the unit has it.
/// </summary>
[Trait("Category", "Netns")]
public sealed class UnitCapabilityTests
{
    // Stands in for the unit's User=/Group=portpublisher, which only the package creates: any uid but root's will do.
    private const int Nobody = 65534;
    private const string NobodyGroup = "nogroup";

    // The kernel's numbers (linux/capability.h) of the capabilities the unit may name.
    private static readonly Dictionary<string, int> s_capabilityBits = new()
    {
        ["chown"] = 0, ["dac_override"] = 1, ["kill"] = 5, ["net_bind_service"] = 10, ["net_raw"] = 13, ["net_admin"] = 12,
        ["sys_chroot"] = 18, ["sys_ptrace"] = 19, ["sys_admin"] = 21, ["sys_resource"] = 24,
    };

    [Fact]
    public async Task UnderTheUnitsCapabilities_ProcPidAndRunNetnsTargetsBothWork()
    {
        RequireTools();
        UnitFile unit = UnitFile.Deployed;
        Assert.NotNull(unit.Get("User"));
        Assert.NotEqual("root", unit.Get("User"));
        Assert.Contains("sys_ptrace", unit.Capabilities("CapabilityBoundingSet"));

        await using var daemon = await CappedDaemon.StartAsync(unit.Capabilities("CapabilityBoundingSet"), unit.Capabilities("AmbientCapabilities"));
        daemon.AssertCapabilities(unit.Capabilities("AmbientCapabilities"));

        (int code, string stdout, string stderr) = daemon.Cli("publish", "byproc", "--netns", $"/proc/{daemon.TargetPid}/ns/net", "-p", "8081:80");
        Assert.True(code == 0, $"the /proc/PID/ns/net target failed under the unit's capabilities: {stdout}{stderr}\n{daemon.Log}");
        (code, stdout, stderr) = daemon.Cli("publish", "byname", "--netns", daemon.Ns.Container, "-p", "8082:80");
        Assert.True(code == 0, $"the /run/netns target failed under the unit's capabilities: {stdout}{stderr}\n{daemon.Log}");

        // Real traffic from the client namespace, through the DNAT the capped daemon programmed.
        Assert.Equal($"peer={Lab.ClientV4}", await Peer.AskTcp(daemon.Ns.ClientNs, Lab.HostV4, 8081));
        Assert.Equal($"peer={Lab.ClientV4}", await Peer.AskTcp(daemon.Ns.ClientNs, Lab.HostV4, 8082));

        // CAP_NET_ADMIN alone lets it write the host namespace's net sysctls; the socket is its group's, 0660.
        Assert.Equal("1", daemon.Ns.Exec(daemon.Ns.Host, "sysctl -n net.ipv4.ip_forward").Trim());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(daemon.Socket));
        Assert.Equal(Nobody.ToString(CultureInfo.InvariantCulture), Sh($"stat -c %g {daemon.Socket}").Trim());
    }

    [Fact]
    public async Task WithoutSysPtrace_TheProcPidTargetFails_TheRunNetnsTargetStillWorks()
    {
        RequireTools();
        UnitFile unit = UnitFile.Deployed;
        string[] bounding = [.. unit.Capabilities("CapabilityBoundingSet").Where(c => c != "sys_ptrace")];
        string[] ambient = [.. unit.Capabilities("AmbientCapabilities").Where(c => c != "sys_ptrace")];

        await using var daemon = await CappedDaemon.StartAsync(bounding, ambient);
        daemon.AssertCapabilities(ambient);

        (int code, string stdout, string stderr) = daemon.Cli("publish", "byproc", "--netns", $"/proc/{daemon.TargetPid}/ns/net", "-p", "8081:80");
        Assert.True(code == 1, $"without CAP_SYS_PTRACE the /proc/PID/ns/net target should fail, exit {code}: {stdout}{stderr}");
        Assert.Contains($"/proc/{daemon.TargetPid}/ns/net", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("byproc", daemon.Cli("ls").Stdout, StringComparison.Ordinal);

        (code, stdout, stderr) = daemon.Cli("publish", "byname", "--netns", daemon.Ns.Container, "-p", "8082:80");
        Assert.True(code == 0, $"the /run/netns target failed: {stdout}{stderr}\n{daemon.Log}");
        Assert.Equal($"peer={Lab.ClientV4}", await Peer.AskTcp(daemon.Ns.ClientNs, Lab.HostV4, 8082));
    }

    [Fact]
    public async Task UnderTheUnitsCapabilities_EverySystemCallIsInTheUnitsSystemCallFilter()
    {
        RequireTools();
        if (!File.Exists("/usr/bin/strace") || !File.Exists("/usr/bin/systemd-analyze"))
        {
            Assert.Skip("strace or systemd-analyze is not installed (Debian packages strace, systemd)");
        }

        // The unit's allow list, expanded as systemd expands it (groups hold groups).
        UnitFile unit = UnitFile.Deployed;
        string filter = unit.Get("SystemCallFilter") ?? throw new InvalidOperationException("the unit has no SystemCallFilter");
        Assert.DoesNotContain("~", filter, StringComparison.Ordinal);
        HashSet<string> allowed = [];
        var pending = new Queue<string>(filter.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        while (pending.TryDequeue(out string? name))
        {
            if (!name.StartsWith('@'))
            {
                allowed.Add(name);
                continue;
            }

            foreach (string line in Sh($"systemd-analyze syscall-filter --no-pager {name}").Split('\n').Skip(1))
            {
                string word = line.Trim();
                if (word.Length > 0 && !word.StartsWith('#'))
                {
                    pending.Enqueue(word);
                }
            }
        }

        Assert.Contains("setns", allowed);
        await using var daemon = await CappedDaemon.StartAsync(unit.Capabilities("CapabilityBoundingSet"), unit.Capabilities("AmbientCapabilities"), trace: true);

        // What the service does: NAT (TCP and UDP) and proxied publishes, a /proc/PID target with traffic, a repair
        // after someone flushes the ruleset, status, unpublish, and a clean stop.
        Assert.Equal(0, daemon.Cli("publish", "nat", "--netns", daemon.Ns.Container, "-p", "8082:80", "-p", "5353:53/udp").Code);
        Assert.Equal(0, daemon.Cli("publish", "byproc", "--netns", $"/proc/{daemon.TargetPid}/ns/net", "--mode", "proxy", "-p", "8081:80").Code);
        Assert.StartsWith("peer=", await Peer.AskTcp(daemon.Ns.ClientNs, Lab.HostV4, 8081), StringComparison.Ordinal);
        Assert.Equal($"peer={Lab.ClientV4}", await Peer.AskTcp(daemon.Ns.ClientNs, Lab.HostV4, 8082));
        daemon.Ns.Exec(daemon.Ns.Host, "nft flush ruleset");
        await Eventually(() => daemon.Ns.Exec(daemon.Ns.Host, "nft list tables").Contains("portpublisher", StringComparison.Ordinal), 10_000, "the tables rebuilt after the flush");
        Assert.Equal(0, daemon.Cli("status").Code);
        Assert.Equal(0, daemon.Cli("unpublish", "nat").Code);
        string summary = daemon.StopTraced();

        // strace -c: one row per system call, its name last; a header, rules and the total around them.
        string[] used = [.. summary.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 5 && double.TryParse(f[0], CultureInfo.InvariantCulture, out _) && f[^1] != "total").Select(f => f[^1]).Distinct().Order()];
        Assert.Contains("setns", used);
        Assert.True(used.Length > 40, summary);
        string[] outside = [.. used.Where(c => !allowed.Contains(c))];
        Assert.True(outside.Length == 0, $"system calls outside SystemCallFilter={filter} (they would fail with EPERM): {string.Join(' ', outside)}");
    }

    private static void RequireTools()
    {
        RequireRoot();
        if (!File.Exists("/usr/bin/setpriv") && !File.Exists("/bin/setpriv"))
        {
            Assert.Skip("setpriv is not installed (Debian package util-linux)");
        }
    }

    private static long Mask(IEnumerable<string> caps) =>
        caps.Aggregate(0L, (m, c) => m | (1L << (s_capabilityBits.TryGetValue(c, out int bit) ? bit : throw new InvalidOperationException($"unknown capability {c}: add its number"))));

    /// <summary>
    /// A client, host and container namespace; portpublisherd in the host one as <see cref="Nobody"/> with the given
    /// capabilities (its socket and state in a directory it owns); a TCP server on the container's port 80; and a
    /// process in the container namespace whose /proc/PID/ns/net is a target with no name.
    /// </summary>
    private sealed class CappedDaemon : IAsyncDisposable
    {
        private readonly Process _daemon;
        private readonly Process _target;
        private readonly Peer _web;
        private readonly string _dir;
        private readonly bool _traced;

        private CappedDaemon(ThreeNamespaces ns, string dir, Process daemon, Process target, Peer web, bool traced)
        {
            _traced = traced;
            Ns = ns;
            _dir = dir;
            _daemon = daemon;
            _target = target;
            _web = web;
        }

        public ThreeNamespaces Ns { get; }

        public string Socket => Path.Combine(_dir, "pp.sock");

        public int TargetPid => _target.Id;

        /// <summary>The daemon's own PID: under strace, strace's child (setpriv and dotnet exec in place).</summary>
        public int DaemonPid => _traced
            ? int.Parse(File.ReadAllText($"/proc/{_daemon.Id}/task/{_daemon.Id}/children").Split(' ')[0], CultureInfo.InvariantCulture)
            : _daemon.Id;

        public string Log => File.Exists(Path.Combine(_dir, "service.log")) ? File.ReadAllText(Path.Combine(_dir, "service.log")) : string.Empty;

        /// <param name="trace">Run it under <c>strace -f -c</c> (a summary of every system call, <see cref="StopTraced"/>).</param>
        public static async Task<CappedDaemon> StartAsync(IReadOnlyList<string> bounding, IReadOnlyList<string> ambient, bool trace = false)
        {
            var ns = ThreeNamespaces.Create(containerIPv6: false, forwarding: false);
            string dir = Directory.CreateTempSubdirectory("pp-caps-").FullName;
            Process? daemon = null, target = null;
            Peer? web = null;
            try
            {
                Sh($"chown {Nobody}:{Nobody} {dir}");
                web = Peer.TcpServer(ns.ContainerNs, Lab.ContainerV4, 80);

                // `ip netns exec` execs its command: the PID is the sleeping process in the container namespace.
                target = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", ns.Container, "sleep", "600"]) { UseShellExecute = false })!;

                string Caps(IEnumerable<string> caps) => string.Join(',', caps.Select(c => "+" + c).Prepend("-all"));
                string[] setpriv =
                [
                    "setpriv", $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups",
                    $"--inh-caps={Caps(ambient)}", $"--ambient-caps={Caps(ambient)}", $"--bounding-set={Caps(bounding)}", "--no-new-privs", "--",
                ];
                string[] service = ["dotnet", Lab.ServiceDll, "--socket", Path.Combine(dir, "pp.sock"), "--state-dir", Path.Combine(dir, "state"), "--metrics", string.Empty, "--socket-group", NobodyGroup];
                string[] strace = trace ? ["strace", "-f", "-qq", "-c", "-o", Path.Combine(dir, "strace.txt")] : [];
                var psi = new ProcessStartInfo("/bin/sh", ["-c", "exec ip netns exec \"$0\" \"$@\" >>\"$LOG\" 2>&1", ns.Host, .. strace, .. setpriv, .. service]) { UseShellExecute = false };
                psi.Environment["LOG"] = Path.Combine(dir, "service.log");
                daemon = Process.Start(psi)!;
                var started = new CappedDaemon(ns, dir, daemon, target, web, trace);
                await Eventually(() => daemon.HasExited || started.Cli("ls").Code == 0, 20_000, () => $"portpublisherd ready:\n{started.Log}");
                Assert.False(daemon.HasExited, $"portpublisherd exited {(daemon.HasExited ? daemon.ExitCode : 0)} under the capabilities:\n{started.Log}");
                return started;
            }
            catch
            {
                Stop(daemon);
                Stop(target);
                web?.Dispose();
                ns.Dispose();
                Directory.Delete(dir, recursive: true);
                throw;
            }
        }

        public (int Code, string Stdout, string Stderr) Cli(params string[] args) =>
            Lab.RunCli(["-H", $"unix://{Socket}", .. args]);

        /// <summary>The emulation is what the unit says: the daemon's effective set is exactly these.</summary>
        public void AssertCapabilities(IEnumerable<string> expected)
        {
            string line = File.ReadLines($"/proc/{DaemonPid}/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            long effective = long.Parse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Assert.Equal(Mask(expected).ToString("x16", CultureInfo.InvariantCulture), effective.ToString("x16", CultureInfo.InvariantCulture));
            string uid = File.ReadLines($"/proc/{DaemonPid}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            Assert.Equal(Nobody.ToString(CultureInfo.InvariantCulture), uid.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]); // effective uid
        }

        /// <summary>SIGTERM to the traced daemon; once it and strace are gone, strace's summary.</summary>
        public string StopTraced()
        {
            Sh($"kill -TERM {DaemonPid}");
            Assert.True(_daemon.WaitForExit(20_000), $"the traced daemon did not stop:\n{Log}");
            return File.ReadAllText(Path.Combine(_dir, "strace.txt"));
        }

        public async ValueTask DisposeAsync()
        {
            Stop(_daemon);
            Stop(_target);
            _web.Dispose();
            Ns.Dispose();
            await Task.Yield();
            Directory.Delete(_dir, recursive: true);
        }

        private static void Stop(Process? p)
        {
            if (p is null)
            {
                return;
            }

            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(10_000);
            }

            p.Dispose();
        }
    }
}
