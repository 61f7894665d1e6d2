using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Xunit;
using static PortPublisher.Service.Tests.Lab;
using PortPublisher.TestKit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>End to end: the real CLI drives the real portpublisherd inside a throwaway host namespace.</summary>
[Trait("Category", "Netns")]
public sealed class PublishTests(LabFixture fixture) : IClassFixture<LabFixture>, IDisposable
{
    private readonly CancellationTokenSource _cts = new();

    private Lab L
    {
        get
        {
            RequireRoot();
            return fixture.Lab;
        }
    }

    public void Dispose()
    {
        _cts.Cancel();
        _cts.Dispose();
    }

    [Fact]
    public void FilesTheServiceMakes_AreOwnerOnlyButTheSocketIsGroupUsable()
    {
        Lab lab = L;
        Assert.Equal(0, lab.Cli("publish", "modes", "--netns", lab.Container, "-p", "7300:80").Code);
        try
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(lab.Socket));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(lab.StateDir, "state.journal")));
            Assert.All(Directory.GetFiles(lab.StateDir), f => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(f)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(lab.StateDir));
            Assert.False(File.Exists(Path.Combine(lab.StateDir, "state.json.tmp")));
        }
        finally
        {
            lab.Cli("unpublish", "modes");
        }
    }

    [Fact]
    public async Task ReferenceScenarios_ReachTheContainerFromEverywhereAndPortPrintsThem()
    {
        Lab lab = L;
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        using Peer dns = Peer.UdpServer(lab.ContainerNs, ContainerV4, 53);
        (int code, string stdout, string stderr) = lab.Cli("publish", "ref", "--netns", lab.Container,
            "-p", "80", "-p", "8080:80", "-p", $"{HostV4}::80", "-p", $"{HostV4}:8081:80", "-p", "127.0.0.1:8082:80", "-p", "9000-9001:80", "-p", "5353:53/udp");
        Assert.True(code == 0, stderr + lab.Log);

        (_, string port, _) = lab.Cli("port", "ref");
        Assert.Equal(stdout, port);
        int dynamic = int.Parse(Regex.Match(port, @"80/tcp -> 0\.0\.0\.0:(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        int specificDynamic = int.Parse(Regex.Match(port, @"80/tcp -> 192\.0\.2\.1:(3\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Contains($"80/tcp -> [::]:{dynamic}\n", port, StringComparison.Ordinal);
        Assert.Contains("80/tcp -> 0.0.0.0:8080\n", port, StringComparison.Ordinal);
        Assert.Contains("80/tcp -> 192.0.2.1:8081\n", port, StringComparison.Ordinal);
        Assert.Contains("80/tcp -> 127.0.0.1:8082\n", port, StringComparison.Ordinal);
        Assert.Contains("80/tcp -> 0.0.0.0:9000\n", port, StringComparison.Ordinal);
        Assert.Contains("53/udp -> 0.0.0.0:5353\n", port, StringComparison.Ordinal);
        Assert.Equal("0.0.0.0:5353\n[::]:5353\n", lab.Cli("port", "ref", "53/udp").Stdout);

        // An external client keeps its address through NAT, on every binding.
        foreach (int p in new[] { dynamic, 8080, specificDynamic, 8081, 9000 })
        {
            Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, p));
        }

        Assert.Equal($"peer={ClientV4}", await Peer.AskUdp(lab.ClientNs, HostV4, 5353));

        // From the host itself (DNAT'ed), from 127.0.0.1 (a loopback-bound port, and a wildcard one: the proxy carries
        // both, dialing from inside the namespace, so no route_localnet is ever set), and hairpin from the container.
        Assert.Equal($"peer={HostV4}", await Peer.AskTcp(lab.HostNs, HostV4, 8080));
        Assert.Equal($"peer={ContainerV4}", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 8082));
        Assert.Equal($"peer={ContainerV4}", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 8080));
        Assert.DoesNotContain("route_localnet = 1", lab.InHost("sysctl -a --pattern route_localnet"), StringComparison.Ordinal);
        Assert.Equal($"peer={HostToContainerV4}", await Peer.AskTcp(lab.ContainerNs, HostV4, 8080));

        // The loopback-bound port is not reachable from outside (the loopback guard).
        Assert.Contains("\"guard\"", lab.InHost("nft -j list chains"), StringComparison.Ordinal);

        // [::] has no IPv6 target (the container is IPv4-only): the proxy carries it, to the IPv4 address.
        Assert.Contains("\"carrier\":\"proxy\"", lab.Cli("ls", "--json").Stdout, StringComparison.Ordinal);

        Assert.Equal(0, lab.Cli("unpublish", "ref").Code);
        Assert.DoesNotContain("10.99.0.2", lab.InHost("nft -s list ruleset"), StringComparison.Ordinal);
        Assert.Equal(1, lab.Cli("port", "ref").Code);
        await Assert.ThrowsAnyAsync<SocketException>(() => Peer.AskTcp(lab.ClientNs, HostV4, 8080));
    }

    [Fact]
    public void PortHeldByAnotherProcess_FailsThePublishAndChangesNothing()
    {
        Lab lab = L;
        using Socket holder = lab.HostNs.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Any, 7070));
            s.Listen();
            return s;
        });
        string before = lab.InHost("nft -s list ruleset");
        (int code, _, string stderr) = lab.Cli("publish", "held", "--netns", lab.Container, "-p", "7071:80", "-p", "7070:80");
        Assert.Equal(1, code);
        Assert.Equal("portpublisher: failed to bind host port for 0.0.0.0:7070:10.99.0.2:80/tcp: address already in use\n", stderr);
        Assert.Equal(before, lab.InHost("nft -s list ruleset"));
        Assert.DoesNotContain("held", lab.Cli("ls").Stdout, StringComparison.Ordinal);

        // 7071 was given back: another publish can take it.
        Assert.Equal(0, lab.Cli("publish", "held2", "--netns", lab.Container, "-p", "7071:80").Code);
        Assert.Equal(0, lab.Cli("unpublish", "held2").Code);
    }

    [Fact]
    public void ExhaustedRange_SaysAllPortsAreAllocated()
    {
        Lab lab = L;
        Assert.Equal(0, lab.Cli("publish", "ex1", "--netns", lab.Container, "-p", "41000-41001:80").Code);
        Assert.Equal(0, lab.Cli("publish", "ex2", "--netns", lab.Container, "-p", "41000-41001:80").Code);
        (int code, _, string stderr) = lab.Cli("publish", "ex3", "--netns", lab.Container, "-p", "41000-41001:80");
        Assert.Equal(1, code);
        Assert.Equal("portpublisher: all ports are allocated\n", stderr);
        Assert.Equal("0.0.0.0:41000\n[::]:41000\n", lab.Cli("port", "ex1", "80").Stdout);
        Assert.Equal("0.0.0.0:41001\n[::]:41001\n", lab.Cli("port", "ex2", "80").Stdout);
        lab.Cli("unpublish", "ex1");
        lab.Cli("unpublish", "ex2");
    }

    [Fact]
    public void BadRequests_AreRefusedWithClearErrors()
    {
        Lab lab = L;
        (int code, _, string err) = lab.Cli("publish", "bad", "--netns", lab.Container, "-p", "80", "-p", "8080:80/icmp");
        Assert.Equal((2, "portpublisher: invalid -p \"8080:80/icmp\": invalid proto: icmp\n"), (code, err));

        (code, _, err) = lab.Cli("publish", "b", "--netns", lab.Container, "-p", "80");
        Assert.Equal(2, code);
        Assert.Contains("Invalid publication name (b)", err, StringComparison.Ordinal);

        (code, _, err) = lab.Cli("publish", "nons", "--netns", $"{lab.Id}-missing", "-p", "80");
        Assert.Equal((1, $"portpublisher: no such network namespace '{lab.Id}-missing': /run/netns/{lab.Id}-missing does not exist (see `ip netns list`)\n"), (code, err));
        (code, _, err) = lab.Cli("publish", "nons", "--netns", $"/run/netns/{lab.Id}-missing", "-p", "80");
        Assert.Equal((1, $"portpublisher: no such network namespace '/run/netns/{lab.Id}-missing': the path does not exist\n"), (code, err));
        (code, _, err) = lab.Cli("publish", "nons", "--netns", "/proc/2147483647/ns/net", "-p", "80");
        Assert.Equal((1, "portpublisher: no such network namespace '/proc/2147483647/ns/net': the path does not exist\n"), (code, err));
        Assert.DoesNotContain("Could not find", lab.Log, StringComparison.Ordinal); // .NET's FileNotFoundException text, nowhere

        Assert.Equal(0, lab.Cli("publish", "dup", "--netns", lab.Container, "-p", "7200:80").Code);
        (code, _, err) = lab.Cli("publish", "dup", "--netns", lab.Container, "-p", "7201:80");
        Assert.Equal(1, code);
        Assert.Contains("\"dup\" is already in use", err, StringComparison.Ordinal);
        Assert.Equal("0.0.0.0:7200\n[::]:7200\n", lab.Cli("port", "dup", "80").Stdout);
        lab.Cli("unpublish", "dup");

        Assert.Equal((1, string.Empty, "Error response from daemon: No such container: missing\n"), lab.Cli("port", "missing"));
        Assert.Equal((1, string.Empty, "portpublisher: no such publication: missing\n"), lab.Cli("unpublish", "missing"));
        Assert.Equal((1, string.Empty, "portpublisher: no such publication: missing\n"), lab.Cli("publish", "shared", "--netns", "container:missing", "-p", "80"));
    }

    [Fact]
    public void DryRun_ShowsThePlanAndChangesNothing()
    {
        Lab lab = L;
        string before = lab.InHost("nft -s list ruleset");
        (int code, string stdout, string stderr) = lab.Cli("publish", "dry", "--netns", lab.Container, "-p", "7300:80", "--dry-run");
        Assert.Equal(0, code);
        Assert.Equal("80/tcp -> 0.0.0.0:7300\n80/tcp -> [::]:7300\n", stdout);
        Assert.Equal("dry run: nothing was published\n", stderr);
        Assert.Equal(before, lab.InHost("nft -s list ruleset"));
        Assert.Equal(1, lab.Cli("port", "dry").Code);
        Assert.Equal(0, lab.Cli("publish", "dry", "--netns", lab.Container, "-p", "7300:80").Code);
        lab.Cli("unpublish", "dry");
    }

    [Fact]
    public void HostNetwork_DiscardsBindingsWithDockersWarning()
    {
        Lab lab = L;
        (int code, string stdout, string stderr) = lab.Cli("publish", "hostnet", "--netns", "host", "-p", "80");
        Assert.Equal(0, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal("WARNING: Published ports are discarded when using host network mode\n", stderr);
        Assert.Equal((0, string.Empty, string.Empty), lab.Cli("port", "hostnet"));
        lab.Cli("unpublish", "hostnet");
    }

    [Fact]
    public void DockerCli_PrintsWhatPortPrints()
    {
        Lab lab = L;
        (int code, string version, _) = Run("/bin/sh", ["-c", "docker version --format '{{.Client.Version}}' 2>/dev/null || docker --version"]);
        if (code != 0 && !version.Contains("Docker", StringComparison.Ordinal))
        {
            Assert.Skip("the docker CLI is not installed on this machine");
        }

        Assert.Equal(0, lab.Cli("publish", "dock", "--netns", lab.Container, "-p", "7400:80", "-p", "127.0.0.1:7401:53/udp", "-p", "7402-7403:90-91").Code);
        var env = new Dictionary<string, string> { ["DOCKER_HOST"] = $"unix://{lab.Socket}", ["DOCKER_CONFIG"] = lab.Dir };
        int major = int.Parse(Regex.Match(version, @"(\d+)\.").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        string[] legacy = major < 23 ? ["--legacy-format"] : [];
        foreach (string[] args in new[] { new[] { "dock" }, new[] { "dock", "80" }, new[] { "dock", "53/udp" }, new[] { "dock", "9999" } })
        {
            (int dc, string dout, string derr) = Run("docker", ["port", .. args], env);
            (int pc, string pout, string perr) = lab.Cli(["port", .. args, .. legacy]);
            if (major < 23)
            {
                // docker ≤ 20.10 does not sort: compare as sets of lines.
                Assert.Equal(pout.Split('\n').Order(), dout.Split('\n').Order());
            }
            else
            {
                Assert.Equal((dc, dout, derr), (pc, pout, perr));
            }
        }

        (int mc, _, string merr) = Run("docker", ["port", "nosuch"], env);
        Assert.Equal((1, "Error response from daemon: No such container: nosuch\n"), (mc, merr));
        lab.Cli("unpublish", "dock");
    }

    [Fact]
    public async Task Metrics_AreValidPrometheusTextWithPerPublicationCounters()
    {
        Lab lab = L;
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 81);
        Assert.Equal(0, lab.Cli("publish", "met", "--netns", lab.Container, "-p", "7500:81").Code);
        await Peer.AskTcp(lab.ClientNs, HostV4, 7500);
        await Peer.AskTcp(lab.HostNs, "::1", 7500); // [::1] -> the [::] binding -> proxy
        string metrics = lab.InHost($"curl -sf http://127.0.0.1:{lab.MetricsPort}/metrics");
        Assert.Contains("portpublisher_nat_connections_total{publication=\"met\",protocol=\"tcp\"} 1", metrics, StringComparison.Ordinal);
        Assert.Matches("portpublisher_proxy_connections_total\\{publication=\"met\",protocol=\"tcp\"\\} 1", metrics);
        Assert.Matches("portpublisher_proxy_bytes_total\\{publication=\"met\",protocol=\"tcp\",direction=\"to_client\"\\} [1-9]", metrics);
        Assert.DoesNotContain("host_port", metrics, StringComparison.Ordinal); // without --metrics-per-binding there is no such label, not an empty one
        Assert.Contains("portpublisher_nftables_transaction_seconds_bucket", metrics, StringComparison.Ordinal);

        // The control API is not on the metrics port.
        Assert.Contains("404", lab.InHost($"curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{lab.MetricsPort}/v1/publications"), StringComparison.Ordinal);
        lab.Cli("unpublish", "met");

        if (!File.Exists("/usr/bin/promtool"))
        {
            Assert.Skip("promtool (Debian package prometheus) is not installed; the metrics text was checked above but not linted");
        }

        string file = Path.Combine(lab.Dir, "metrics.txt");
        File.WriteAllText(file, metrics);
        (int code, string o, string e) = Run("/bin/sh", ["-c", $"promtool check metrics < {file}"]);
        Assert.True(code == 0, o + e);
    }

    [Fact]
    public async Task DeletedNamespace_IsUnpublishedWithinASecond()
    {
        Lab lab = L;
        string ns = lab.AddNamespace("t");
        {
            Assert.Equal(0, lab.Cli("publish", "gone", "--netns", ns, "-p", "7600:80").Code);
            Assert.Contains("\"carrier\":\"proxy\"", lab.Cli("ls", "--json").Stdout, StringComparison.Ordinal); // only lo: no route, so the proxy
            Sh($"ip netns del {ns}");
            // The deadline is the assertion (each poll is a CLI process start, ~250 ms, hence 2 s for "within a second").
            await Eventually(() => Task.FromResult(!lab.Cli("ls").Stdout.Contains("gone", StringComparison.Ordinal)), 2000, "publication gone from `ls` after `ip netns del`");
            await Eventually(() => Task.FromResult(lab.Log.Contains("Namespace of publication gone is gone", StringComparison.Ordinal)));
        }
    }
}
