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
        ["chown"] = 0, ["dac_override"] = 1, ["net_bind_service"] = 10, ["net_raw"] = 13, ["net_admin"] = 12,
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

        private CappedDaemon(ThreeNamespaces ns, string dir, Process daemon, Process target, Peer web)
        {
            Ns = ns;
            _dir = dir;
            _daemon = daemon;
            _target = target;
            _web = web;
        }

        public ThreeNamespaces Ns { get; }

        public string Socket => Path.Combine(_dir, "pp.sock");

        public int TargetPid => _target.Id;

        public string Log => File.Exists(Path.Combine(_dir, "service.log")) ? File.ReadAllText(Path.Combine(_dir, "service.log")) : string.Empty;

        public static async Task<CappedDaemon> StartAsync(IReadOnlyList<string> bounding, IReadOnlyList<string> ambient)
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
                var psi = new ProcessStartInfo("/bin/sh", ["-c", "exec ip netns exec \"$0\" \"$@\" >>\"$LOG\" 2>&1", ns.Host, .. setpriv, .. service]) { UseShellExecute = false };
                psi.Environment["LOG"] = Path.Combine(dir, "service.log");
                daemon = Process.Start(psi)!;
                var started = new CappedDaemon(ns, dir, daemon, target, web);
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
            Run("dotnet", [Lab.CliDll, "-H", $"unix://{Socket}", .. args]);

        /// <summary>The emulation is what the unit says: the daemon's effective set is exactly these.</summary>
        public void AssertCapabilities(IEnumerable<string> expected)
        {
            string line = File.ReadLines($"/proc/{_daemon.Id}/status").Single(l => l.StartsWith("CapEff:", StringComparison.Ordinal));
            long effective = long.Parse(line["CapEff:".Length..].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            Assert.Equal(Mask(expected).ToString("x16", CultureInfo.InvariantCulture), effective.ToString("x16", CultureInfo.InvariantCulture));
            string uid = File.ReadLines($"/proc/{_daemon.Id}/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            Assert.Equal(Nobody.ToString(CultureInfo.InvariantCulture), uid.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2]); // effective uid
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
