using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// packaging/build-deb.sh builds the .deb once for the class (<see cref="DebFixture"/>); it is checked with lintian,
/// installed with dpkg into a booted throwaway Debian (<see cref="DebianContainer"/>: its own systemd, private
/// network, no .NET SDK) where the unit must start and publish with real traffic, then upgraded, removed and purged.
/// deploy/install.sh is run with DESTDIR, on a box without systemd, and twice on one with it (the second run restarts).
/// </summary>
[Trait("Category", "Package")]
[Collection(Exclusive.Name)]
public sealed class PackageTests(PackageTests.DebFixture fixture, ITestOutputHelper output) : IClassFixture<PackageTests.DebFixture>
{
    private const string Version = "1.0.0";

    [Fact]
    public void Deb_HoldsTheLayoutAndIsLintianClean()
    {
        string path = fixture.Require();
        output.WriteLine($"build-deb.sh: {fixture.BuildTime.TotalSeconds:F0} s, {new FileInfo(path).Length / 1e6:F1} MB: {fixture.BuildLog}");
        string contents = Sh($"dpkg-deb -c {path}");
        foreach (string file in new[]
        {
            "./usr/lib/portpublisher/portpublisherd", "./usr/lib/portpublisher/portpublisher", "./lib/systemd/system/portpublisher.service",
            "./etc/portpublisher/portpublisher.json", "./usr/share/bash-completion/completions/portpublisher",
            "./usr/share/man/man1/portpublisher.1.gz", "./usr/share/man/man8/portpublisherd.8.gz",
            "./usr/share/doc/portpublisher/copyright", "./usr/share/doc/portpublisher/changelog.gz",
            "./usr/bin/portpublisher -> ../lib/portpublisher/portpublisher", "./usr/sbin/portpublisherd -> ../lib/portpublisher/portpublisherd",
            "./usr/lib/portpublisher/portpublisher-cni", "./usr/lib/cni/portpublisher-cni -> ../portpublisher/portpublisher-cni",
            "./usr/share/doc/portpublisher/examples/portpublisher-cni.conflist",
        })
        {
            Assert.Contains(file, contents, StringComparison.Ordinal);
        }

        Assert.Equal("/etc/portpublisher/portpublisher.json", Sh($"dpkg-deb --ctrl-tarfile {path} | tar -xOf - ./conffiles").Trim());
        Assert.DoesNotContain("nftables", Sh($"dpkg-deb -f {path} Depends"), StringComparison.Ordinal); // netlink, not nft(8)

        if (!File.Exists("/usr/bin/lintian"))
        {
            Assert.Skip("lintian is not installed (Debian package lintian); the layout was checked");
        }

        // Every tag that is not overridden (packaging/lintian-overrides says why for those) is a failure, at any level.
        (_, string stdout, string stderr) = Run("lintian", ["--display-info", "--pedantic", "--info", path], timeoutMs: 300_000);
        string[] tags = [.. stdout.Split('\n').Where(l => Regex.IsMatch(l, "^[EWIPX]: "))];
        Assert.True(tags.Length == 0, string.Join('\n', tags) + stderr);
    }

    [Fact]
    public async Task Deb_InstallsStartsPublishesUpgradesRemovesAndPurges_InABootedDebianWithoutTheSdk()
    {
        string path = fixture.Require();
        RequireContainer();
        using DebianContainer box = DebianContainer.Create((Path.GetDirectoryName(path)!, "/mnt/pkg"));
        var sw = Stopwatch.StartNew();
        await box.BootAsync();
        TimeSpan boot = sw.Elapsed;
        Assert.Equal(1, box.Exec("test -e /usr/share/dotnet/dotnet").Code); // no SDK, no runtime

        string package = $"/mnt/pkg/{Path.GetFileName(path)}";
        box.ExecOk($"dpkg -i {package}", timeoutMs: 180_000);
        TimeSpan installed = sw.Elapsed;

        // The maintainer scripts made the user and group and started the unit, which is ready and answers.
        Assert.Equal("active", box.Exec("systemctl is-active portpublisher").Stdout.Trim());
        Assert.Equal("enabled", box.Exec("systemctl is-enabled portpublisher").Stdout.Trim());
        Assert.Equal("portpublisher", box.ExecOk("stat -c %U /proc/$(systemctl show -P MainPID portpublisher)").Trim());
        Assert.Equal("660 portpublisher", box.ExecOk("stat -c '%a %G' /run/portpublisher/portpublisher.sock").Trim());
        Assert.Contains(Version, box.ExecOk("env -i /usr/bin/portpublisher --version"), StringComparison.Ordinal);
        Assert.Contains(Version, box.ExecOk("env -i /usr/sbin/portpublisherd --version"), StringComparison.Ordinal); // the container's own netns

        // The installed unit verifies clean, man pages and ExecStart included.
        (int code, string vout, string verr) = box.Exec("systemd-analyze verify /lib/systemd/system/portpublisher.service");
        Assert.True(code == 0 && (vout + verr).Trim().Length == 0, vout + verr);
        box.ExecOk("man -w portpublisher && man -w 8 portpublisherd");

        // A namespace joined by veth with a TCP server: through the DNAT the hardened service programs.
        box.ExecOk("ip netns add web && ip link add veth-h type veth peer name veth-w netns web"
            + " && ip addr add 10.88.0.1/24 dev veth-h && ip link set veth-h up"
            + " && ip -n web addr add 10.88.0.2/24 dev veth-w && ip -n web link set veth-w up && ip -n web link set lo up"
            + " && ip -n web route add default via 10.88.0.1");
        box.ExecOk("ip netns exec web socat TCP-LISTEN:80,bind=10.88.0.2,fork,reuseaddr SYSTEM:'echo from-web' >/dev/null 2>&1 &");

        // A process in a namespace that has no name, only /proc/PID/ns/net (unshare and sh exec: $! is socat's PID).
        string pid = box.ExecOk("unshare -n sh -c 'ip link set lo up; exec socat TCP-LISTEN:80,bind=127.0.0.1,fork,reuseaddr SYSTEM:\"echo from-proc\"' >/dev/null 2>&1 & echo $!").Trim();
        await Eventually(() => box.Exec("ip netns exec web ss -Hltn 'sport = 80'").Stdout.Contains("LISTEN", StringComparison.Ordinal)
            && box.Exec($"nsenter -t {pid} -n ss -Hltn 'sport = 80'").Stdout.Contains("LISTEN", StringComparison.Ordinal), 10_000, "both servers listening");

        Assert.Equal("80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n", box.ExecOk("env -i /usr/bin/portpublisher publish web --netns web -p 8080:80"));
        box.ExecOk($"env -i /usr/bin/portpublisher publish byproc --netns /proc/{pid}/ns/net --mode proxy -p 127.0.0.1:9090:80");
        Assert.Equal("from-web", box.ExecOk("timeout 5 socat -T3 - TCP:127.0.0.1:8080 </dev/null").Trim());
        Assert.Equal("from-proc", box.ExecOk("timeout 5 socat -T3 - TCP:127.0.0.1:9090 </dev/null").Trim());
        Assert.Contains("net.ipv4.ip_forward = 1", box.ExecOk("env -i /usr/bin/portpublisher status"), StringComparison.Ordinal);

        // Sandboxes under the shipped unit (its own mount namespace, ProtectSystem=strict, the unprivileged user): the
        // files are made in PID 1's mount namespace, so ip netns sees them on the host and exec enters them.
        box.ExecOk("env -i /usr/bin/portpublisher sandbox create sb1 --hostname du --add-host www.du.com:2.2.2.2 -p 8088:80");
        Assert.Contains("sb1", box.ExecOk("ip netns list"), StringComparison.Ordinal);
        Assert.Contains("2.2.2.2\twww.du.com\n", box.ExecOk("ip netns exec sb1 cat /etc/hosts"), StringComparison.Ordinal);
        Assert.Equal("du", box.ExecOk("portpublisher exec sb1 hostname").Trim());
        box.ExecOk("portpublisher exec sb1 socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo from-sandbox' >/dev/null 2>&1 &");
        await Eventually(() => box.Exec("ip netns exec sb1 ss -Hltn 'sport = 80'").Stdout.Contains("LISTEN", StringComparison.Ordinal), 10_000, "the sandbox's server listening");
        Assert.Equal("from-sandbox", box.ExecOk("timeout 5 socat -T3 - TCP:127.0.0.1:8088 </dev/null").Trim());

        // Members of the portpublisher group may use the socket; others may not.
        box.ExecOk("useradd -M -G portpublisher alice && useradd -M bob");
        Assert.Equal(0, box.Exec("runuser -u alice -- env -i /usr/bin/portpublisher ls").Code);
        Assert.NotEqual(0, box.Exec("runuser -u bob -- env -i /usr/bin/portpublisher ls").Code);

        // Bash completion: a command from the list, and publication names from the running service.
        const string Complete = "bash -c '. /usr/share/bash-completion/completions/portpublisher; COMP_WORDS=({0}); COMP_CWORD={1}; _portpublisher; echo \"${{COMPREPLY[*]}}\"'";
        Assert.Equal("publish", box.ExecOk(string.Format(CultureInfo.InvariantCulture, Complete, "portpublisher pu", 1)).Trim());
        Assert.Equal("byproc sb1 web", box.ExecOk(string.Format(CultureInfo.InvariantCulture, Complete, "portpublisher port \"\"", 2)).Trim());

        // The CNI plugin where Podman and CRI-O look, native (no DOTNET_ROOT), through the installed service: an ADD
        // as a runtime sends it (web's veth as the container's interface) is reachable and listed; DEL removes it.
        const string Plugin = "env -i CNI_COMMAND={0} CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/web CNI_IFNAME=veth-w CNI_PATH=/usr/lib/cni /usr/lib/cni/portpublisher-cni";
        Assert.Contains("\"supportedVersions\"", box.ExecOk($"echo '{{\"cniVersion\":\"1.0.0\"}}' | env -i CNI_COMMAND=VERSION /usr/lib/cni/portpublisher-cni"), StringComparison.Ordinal);
        const string Conf = """{"cniVersion":"1.0.0","name":"mynet","type":"portpublisher-cni","runtimeConfig":{"portMappings":[{"hostPort":8181,"containerPort":80,"protocol":"tcp"}]},"prevResult":{"cniVersion":"1.0.0","interfaces":[{"name":"veth-h"},{"name":"veth-w","sandbox":"/run/netns/web"}],"ips":[{"interface":1,"address":"10.88.0.2/24"}]}}""";
        Assert.Contains("\"10.88.0.2/24\"", box.ExecOk($"echo '{Conf}' | {string.Format(CultureInfo.InvariantCulture, Plugin, "ADD")}"), StringComparison.Ordinal); // prevResult passed on
        Assert.Equal("from-web", box.ExecOk("timeout 5 socat -T3 - TCP:127.0.0.1:8181 </dev/null").Trim());
        Assert.Contains("cni-c1-veth-w", box.ExecOk("env -i /usr/bin/portpublisher ls"), StringComparison.Ordinal);
        box.ExecOk($"echo '{Conf}' | {string.Format(CultureInfo.InvariantCulture, Plugin, "DEL")}");
        Assert.DoesNotContain("cni-c1-veth-w", box.ExecOk("env -i /usr/bin/portpublisher ls"), StringComparison.Ordinal);

        // An upgrade (the same package again) restarts the service, which restores both publications.
        string before = box.ExecOk("systemctl show -P MainPID portpublisher").Trim();
        box.ExecOk($"dpkg -i {package}", timeoutMs: 180_000);
        Assert.NotEqual(before, box.ExecOk("systemctl show -P MainPID portpublisher").Trim());
        Assert.Equal("active", box.Exec("systemctl is-active portpublisher").Stdout.Trim());
        await Eventually(() => box.Exec("timeout 5 socat -T3 - TCP:127.0.0.1:9090 </dev/null").Stdout.Trim() == "from-proc", 10_000, "the proxied binding back after the upgrade");
        Assert.Equal("from-web", box.ExecOk("timeout 5 socat -T3 - TCP:127.0.0.1:8080 </dev/null").Trim());

        // The sandbox outlived the restart (re-read, not re-made); rm refuses while its server runs, --force kills it.
        Assert.Equal("du", box.ExecOk("portpublisher exec sb1 hostname").Trim());
        await Eventually(() => box.Exec("timeout 5 socat -T3 - TCP:127.0.0.1:8088 </dev/null").Stdout.Trim() == "from-sandbox", 10_000, "the sandbox's port back after the upgrade");
        (int rmCode, _, string rmErr) = box.Exec("env -i /usr/bin/portpublisher sandbox rm sb1");
        Assert.True(rmCode == 1 && rmErr.Contains("(socat) runs in it", StringComparison.Ordinal), rmErr);
        box.ExecOk("env -i /usr/bin/portpublisher sandbox rm --force sb1");
        Assert.DoesNotContain("sb1", box.ExecOk("ip netns list"), StringComparison.Ordinal);
        Assert.Equal(1, box.Exec("test -e /etc/netns/sb1 || test -e /run/portpublisher/uts/sb1 || ip link show pp0").Code);

        // Remove stops it and keeps the configuration and the state; purge removes both.
        box.ExecOk("dpkg -r portpublisher");
        Assert.NotEqual("active", box.Exec("systemctl is-active portpublisher").Stdout.Trim());
        box.ExecOk("{ test -f /var/lib/portpublisher/state.json || test -f /var/lib/portpublisher/state.journal; } && test -f /etc/portpublisher/portpublisher.json");
        box.ExecOk("dpkg -P portpublisher");
        Assert.Equal(1, box.Exec("test -e /var/lib/portpublisher || test -e /etc/portpublisher").Code);
        output.WriteLine($"container boot {boot.TotalSeconds:F1} s, dpkg -i {(installed - boot).TotalSeconds:F1} s, whole test {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void InstallSh_WithDestdirAndPrefix_StagesEverythingAndTouchesNothingElse()
    {
        string published = fixture.Published();
        string dest = Directory.CreateTempSubdirectory("pp-destdir-").FullName;
        try
        {
            var env = new Dictionary<string, string> { ["DESTDIR"] = dest, ["PREFIX"] = "/opt/pp", ["PORTPUBLISHER_PUBLISHED"] = published };
            (int code, string stdout, string stderr) = Run("bash", [Path.Combine(Lab.RepoRoot, "deploy", "install.sh")], env, timeoutMs: 120_000);
            Assert.True(code == 0, stdout + stderr);
            foreach (string file in new[]
            {
                "opt/pp/lib/portpublisher/portpublisherd", "opt/pp/lib/portpublisher/portpublisher", "opt/pp/bin/portpublisher", "opt/pp/sbin/portpublisherd",
                "opt/pp/share/man/man1/portpublisher.1", "opt/pp/share/man/man8/portpublisherd.8", "opt/pp/share/bash-completion/completions/portpublisher",
                "etc/systemd/system/portpublisher.service", "etc/portpublisher/portpublisher.json",
                "opt/pp/lib/portpublisher/portpublisher-cni", "opt/pp/share/doc/portpublisher/examples/portpublisher-cni.conflist",
            })
            {
                Assert.True(File.Exists(Path.Combine(dest, file)), $"{file} is missing under DESTDIR:\n{stdout}{stderr}");
            }

            // The CNI plugin linked into the runtimes' default directory (CNI_BIN_DIR, default /opt/cni/bin), under DESTDIR.
            Assert.Equal("/opt/pp/lib/portpublisher/portpublisher-cni", new FileInfo(Path.Combine(dest, "opt/cni/bin/portpublisher-cni")).LinkTarget);

            Assert.Equal("/opt/pp/lib/portpublisher/portpublisher", new FileInfo(Path.Combine(dest, "opt/pp/bin/portpublisher")).LinkTarget);
            Assert.Contains("ExecStart=/opt/pp/lib/portpublisher/portpublisherd\n", File.ReadAllText(Path.Combine(dest, "etc/systemd/system/portpublisher.service")), StringComparison.Ordinal);

            // The staged binaries run with no SDK in reach: no PATH, no DOTNET_ROOT (the daemon in a throwaway netns).
            Assert.Contains("Usage:", Sh($"env -i {dest}/opt/pp/lib/portpublisher/portpublisher --help"), StringComparison.Ordinal);
            Assert.Contains(Version, Sh($"unshare -n env -i {dest}/opt/pp/lib/portpublisher/portpublisherd --version"), StringComparison.Ordinal);

            // A second run keeps an edited configuration.
            File.AppendAllText(Path.Combine(dest, "etc/portpublisher/portpublisher.json"), "\n");
            string edited = File.ReadAllText(Path.Combine(dest, "etc/portpublisher/portpublisher.json"));
            (code, stdout, stderr) = Run("bash", [Path.Combine(Lab.RepoRoot, "deploy", "install.sh")], env, timeoutMs: 120_000);
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("kept /etc/portpublisher/portpublisher.json", stdout, StringComparison.Ordinal);
            Assert.Equal(edited, File.ReadAllText(Path.Combine(dest, "etc/portpublisher/portpublisher.json")));
        }
        finally
        {
            Directory.Delete(dest, recursive: true);
        }
    }

    [Fact]
    public async Task InstallSh_WithoutSystemdSaysWhatToDo_WithSystemdStartsThenRestartsOnUpgrade()
    {
        string published = fixture.Published();
        RequireContainer();
        (string, string)[] binds = [(Lab.RepoRoot, "/mnt/src"), (published, "/mnt/bin")];
        const string Install = "env PORTPUBLISHER_PUBLISHED=/mnt/bin bash /mnt/src/deploy/install.sh";

        // No init: the files are installed, the user made, nothing started, exit 0 with what to do.
        using (DebianContainer bare = DebianContainer.Create(binds))
        {
            (int code, string stdout, string stderr) = bare.RunOnce($"{Install} && getent passwd portpublisher && test -x /usr/local/sbin/portpublisherd");
            Assert.True(code == 0, stdout + stderr);
            Assert.Contains("systemd is not running here", stdout, StringComparison.Ordinal);
            Assert.Contains("/usr/local/sbin/portpublisherd", stdout, StringComparison.Ordinal);
        }

        // systemd running: enabled and started; a second run (an upgrade) restarts it.
        using DebianContainer box = DebianContainer.Create(binds);
        await box.BootAsync();
        Assert.Contains("enabled and started", box.ExecOk(Install, timeoutMs: 120_000), StringComparison.Ordinal);
        Assert.Equal("active", box.Exec("systemctl is-active portpublisher").Stdout.Trim());
        Assert.Equal(0, box.Exec("env -i /usr/local/bin/portpublisher ls").Code);
        string before = box.ExecOk("systemctl show -P MainPID portpublisher").Trim();
        Assert.Contains("restarted portpublisher.service", box.ExecOk(Install, timeoutMs: 120_000), StringComparison.Ordinal);
        Assert.NotEqual(before, box.ExecOk("systemctl show -P MainPID portpublisher").Trim());
        Assert.Equal(0, box.Exec("env -i /usr/local/bin/portpublisher ls").Code);
    }

    private static void RequireContainer()
    {
        if (!DebianContainer.Available)
        {
            Assert.Skip("systemd-nspawn is not installed (Debian package systemd-container; scripts/test.sh installs it)");
        }
    }

    /// <summary>Runs packaging/build-deb.sh once for the class; the tests that need the package ask for it.</summary>
    public sealed class DebFixture : IDisposable
    {
        private readonly Lazy<(string? Deb, string? Skip)> _build;
        private readonly string _out = Directory.CreateTempSubdirectory("pp-deb-").FullName;

        public DebFixture() => _build = new(Build);

        public TimeSpan BuildTime { get; private set; }

        public string BuildLog { get; private set; } = string.Empty;

        /// <summary>The .deb, or the test is skipped with the reason it could not be built here.</summary>
        public string Require()
        {
            RequireRoot();
            (string? deb, string? skip) = _build.Value;
            if (skip is not null)
            {
                Assert.Skip(skip);
            }

            return deb!;
        }

        /// <summary>The package's two binaries, unpacked.</summary>
        public string Published()
        {
            string dir = Path.Combine(_out, "unpacked", "usr", "lib", "portpublisher");
            if (!Directory.Exists(dir))
            {
                Sh($"dpkg-deb -x {Require()} {Path.Combine(_out, "unpacked")}");
            }

            return dir;
        }

        public void Dispose() => Directory.Delete(_out, recursive: true);

        private (string?, string?) Build()
        {
            if (!File.Exists("/usr/bin/dpkg-deb"))
            {
                return (null, "dpkg-deb is not installed (Debian package dpkg)");
            }

            var sw = Stopwatch.StartNew();
            (int code, string stdout, string stderr) = Run("bash", [Path.Combine(Lab.RepoRoot, "packaging", "build-deb.sh"), Version, _out], timeoutMs: 1_200_000);
            BuildTime = sw.Elapsed;
            BuildLog = stderr.Trim();
            Assert.True(code == 0, $"build-deb.sh exited {code}:\n{stdout}\n{stderr}");
            string deb = stdout.Trim().Split('\n')[^1];
            Assert.True(File.Exists(deb), $"build-deb.sh printed no package path:\n{stdout}\n{stderr}");
            return (deb, null);
        }
    }
}
