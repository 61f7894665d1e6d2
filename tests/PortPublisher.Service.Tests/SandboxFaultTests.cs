using System.Diagnostics;
using System.Text.Json;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Sandboxes under faults and misuse: kill -9 in the middle of creates and removes, processes left inside, a namespace
/// file replaced behind the service's back, a same-named publication of another namespace, the bridge deleted, and a
/// second service on the same host namespace. The oracles are the kernel's (<c>ip</c>) and the files themselves.
/// </summary>
[Trait("Category", "Netns")]
public sealed class SandboxFaultTests(SandboxLabFixture fixture, ITestOutputHelper output) : IClassFixture<SandboxLabFixture>
{
    private Lab L
    {
        get
        {
            RequireRoot();
            return fixture.Lab;
        }
    }

    [Fact]
    public async Task Kill9DuringCreatesAndRemoves_LeavesEachSandboxWholeOrGone_AndTheNameFree()
    {
        Lab lab = L;
        string name = $"{lab.Id}k9";
        int whole = 0, gone = 0;
        try
        {
            // Each kill lands at a point the test sees happen: the record saved, the namespace file made, the UTS pin
            // made, the /etc/netns files written; for removes, the record marked, the files gone.
            Func<bool>[] createPoints =
            [
                () => StateMentions(lab, name),
                () => File.Exists($"/run/netns/{name}"),
                () => File.Exists($"/run/portpublisher/uts/{name}"),
                () => Directory.Exists($"/etc/netns/{name}"),
            ];
            Func<bool>[] removePoints =
            [
                () => StateMentions(lab, "\"removing\""),
                () => !Directory.Exists($"/etc/netns/{name}"),
            ];
            for (int i = 0; i < 8; i++)
            {
                bool removing = i % 2 == 1;
                if (removing && !SandboxExists(lab, name))
                {
                    Assert.Equal(0, lab.Cli("sandbox", "create", name, "-p", "7640:80", "--hostname", "k9").Code);
                }

                Func<bool> point = removing ? removePoints[i % removePoints.Length] : createPoints[i % createPoints.Length];
                using Process cli = StartCli(lab, removing ? ["sandbox", "rm", name] : ["sandbox", "create", name, "-p", "7640:80", "--hostname", "k9"]);
                var seen = Stopwatch.StartNew();
                while (!point() && !cli.HasExited && seen.ElapsedMilliseconds < 20_000)
                {
                    Thread.Yield();
                }

                lab.StopService(kill: true);
                cli.WaitForExit(10_000);
                await lab.StartServiceAsync(SandboxLabFixture.ServiceArgs);

                if (SandboxExists(lab, name))
                {
                    whole++;
                    JsonElement s = Inspect(lab, name);
                    Assert.False(s.TryGetProperty("phase", out _), $"still {s}");
                    Assert.True(File.Exists($"/run/netns/{name}"));
                    Assert.Equal("k9\n", File.ReadAllText($"/etc/netns/{name}/hostname"));
                    Assert.Equal("k9\n", lab.Cli("exec", name, "hostname").Stdout);
                    Assert.Contains(s.GetProperty("veth").GetString()!, lab.InHost("ip -br link"), StringComparison.Ordinal);
                    Assert.Equal("80/tcp -> 0.0.0.0:7640\n80/tcp -> [::]:7640\n", lab.Cli("port", name).Stdout);
                }
                else
                {
                    gone++;
                    AssertNothingLeft(lab, name);
                    Assert.Equal(1, lab.Cli("port", name).Code);
                }
            }

            // The name is never stuck: it can be made (again) and removed, and then nothing at all is left.
            lab.Cli("sandbox", "rm", name);
            (int code, _, string err) = lab.Cli("sandbox", "create", name, "-p", "7640:80");
            Assert.True(code == 0, err + lab.Log);
            Assert.Equal(0, lab.Cli("sandbox", "rm", name).Code);
            AssertNothingLeft(lab, name);
            Assert.DoesNotContain("pp0", lab.InHost("ip -br link"), StringComparison.Ordinal);
            Assert.DoesNotContain("veth", lab.InHost("ip -br link"), StringComparison.Ordinal);
            output.WriteLine($"after a kill: {whole} whole, {gone} gone; {CountOf(lab.Log, "is finished now")} interrupted changes finished at start");
        }
        finally
        {
            lab.Cli("sandbox", "rm", "--force", name);
        }
    }

    [Fact]
    public async Task Remove_WithAProcessInside_IsRefused_AndForceKillsIt()
    {
        Lab lab = L;
        string name = $"{lab.Id}pr";
        try
        {
            Assert.Equal(0, lab.Cli("sandbox", "create", name, "--network", "none").Code);
            using Process sleeper = StartCli(lab, ["exec", name, "sleep", "300"]);
            await Eventually(() => Sh($"ip netns pids {name}").Trim().Length > 0, 10_000, "the process inside");

            (int code, _, string err) = lab.Cli("sandbox", "rm", name);
            Assert.Equal(1, code);
            Assert.Contains("(sleep) runs in it; stop it first, or `sandbox rm --force", err, StringComparison.Ordinal);
            Assert.True(File.Exists($"/run/netns/{name}"));
            Assert.False(sleeper.HasExited);

            Assert.Equal((0, $"{name}\n"), Out(lab.Cli("sandbox", "rm", "--force", name)));
            Assert.True(sleeper.WaitForExit(10_000), "the process inside was not killed");
            AssertNothingLeft(lab, name);
        }
        finally
        {
            lab.Cli("sandbox", "rm", "--force", name);
        }
    }

    [Fact]
    public async Task RemoveOfAJoiner_IsRefusedForTheProcessesThatEnteredThroughIt_AndForceKillsOnlyThose()
    {
        Lab lab = L;
        string a = $"{lab.Id}ja", b = $"{lab.Id}jb";
        try
        {
            Assert.Equal(0, lab.Cli("sandbox", "create", a, "--network", "none").Code);
            Assert.Equal(0, lab.Cli("sandbox", "create", b, "--network", $"container:{a}").Code);
            using Process viaA = StartCli(lab, ["exec", a, "sleep", "301"]);
            using Process viaB = StartCli(lab, ["exec", b, "sleep", "302"]);
            await Eventually(() => Sh($"ip netns pids {a}").Trim().Split('\n').Length == 2, 10_000, "both processes inside");

            (int code, _, string err) = lab.Cli("sandbox", "rm", b);
            Assert.Equal(1, code);
            Assert.Contains("(sleep) runs in it", err, StringComparison.Ordinal);
            Assert.Equal(0, lab.Cli("sandbox", "rm", "--force", b).Code);
            Assert.True(viaB.WaitForExit(10_000), "the process that entered through the joiner was not killed");
            Assert.False(viaA.HasExited, "a process of the sandbox it joined was killed");
        }
        finally
        {
            lab.Cli("sandbox", "rm", "--force", b, a);
        }
    }

    [Fact]
    public async Task Remove_OnAFullStateDirectory_IsRefusedWithNothingChanged()
    {
        RequireRoot();
        await using Lab lab = await Lab.StartAsync();
        string name = $"{lab.Id}fd";
        lab.StopService(kill: false);
        Sh($"mount -t tmpfs -o size=64k,mode=0700 {lab.Id}-state {lab.StateDir}");
        try
        {
            await lab.StartServiceAsync();
            Assert.Equal(0, lab.Cli("sandbox", "create", name, "--network", "none", "-p", "7660:80").Code);
            TrySh($"dd if=/dev/zero of={lab.StateDir}/filler bs=4096 2>/dev/null");

            (int code, _, string err) = lab.Cli("sandbox", "rm", name);
            Assert.Equal(1, code);
            Assert.Contains($"{lab.StateDir}/sandboxes.json", err, StringComparison.Ordinal);
            Assert.False(Inspect(lab, name).TryGetProperty("phase", out _));
            Assert.Equal("80/tcp -> 0.0.0.0:7660\n80/tcp -> [::]:7660\n", lab.Cli("port", name).Stdout);
            Assert.True(File.Exists($"/run/netns/{name}"));

            File.Delete(Path.Combine(lab.StateDir, "filler"));
            Assert.Equal(0, lab.Cli("sandbox", "rm", name).Code);
            AssertNothingLeft(lab, name);
        }
        finally
        {
            lab.Cli("sandbox", "rm", "--force", name);
            lab.StopService(kill: true);
            TrySh($"umount {lab.StateDir}");
            RemoveLeftovers(name);
        }
    }

    [Fact]
    public async Task ARecordNamingAPathOutsideItsDirectory_StopsTheStart_AndRemovesNothing()
    {
        RequireRoot();
        await using Lab lab = await Lab.StartAsync();
        lab.StopService(kill: false);
        string decoy = Path.Combine(lab.Dir, "decoy");
        Directory.CreateDirectory(decoy);
        File.WriteAllText(Path.Combine(decoy, "keep"), "keep");
        string evil = "../.." + decoy;
        File.WriteAllText(Path.Combine(lab.StateDir, "sandboxes.json"),
            "{\"version\":1,\"sandboxes\":[{\"name\":\"" + evil + "\",\"id\":\"" + new string('a', 64) + "\",\"network\":\"none\",\"hostname\":\"x\",\"etcDir\":\"/etc/netns/" + evil + "\",\"phase\":\"removing\"}]}");

        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => lab.StartServiceAsync());
        Assert.Contains($"the record of \"{evil}\" has a bad name", e.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(decoy, "keep")), "the start removed what the record named");
    }

    [Fact]
    public async Task Remove_LeavesAReplacedNamespaceFile_AndAnotherNamespacesPublication_Alone()
    {
        Lab lab = L;
        string name = $"{lab.Id}rp";
        try
        {
            Assert.Equal(0, lab.Cli("sandbox", "create", name, "--network", "none", "-p", "7650:80").Code);

            // Someone deletes the namespace and makes one of the same name (its ports end with it, as with any
            // vanished namespace); and publishes that name elsewhere.
            Sh($"ip netns del {name} && ip netns add {name}");
            await Eventually(() => lab.Cli("port", name).Code != 0, 10_000, "the sandbox's ports ended with its namespace");
            Assert.Equal(0, lab.Cli("publish", name, "--netns", lab.Container, "-p", "7651:80").Code);

            Assert.Equal(0, lab.Cli("sandbox", "rm", name).Code);
            Assert.True(File.Exists($"/run/netns/{name}"), "the other namespace's file was removed");
            Assert.Contains($"/run/netns/{name} is another namespace now", lab.Log, StringComparison.Ordinal);
            Assert.Equal("80/tcp -> 0.0.0.0:7651\n80/tcp -> [::]:7651\n", lab.Cli("port", name).Stdout);
            Assert.False(Directory.Exists($"/etc/netns/{name}"));
        }
        finally
        {
            lab.Cli("unpublish", name);
            lab.Cli("sandbox", "rm", name);
            TrySh($"ip netns del {name}");
        }
    }

    [Fact]
    public async Task TheBridge_DeletedBehindTheServicesBack_IsMadeAgain_AndTheSandboxesTalkAgain()
    {
        Lab lab = L;
        string a = $"{lab.Id}ba", b = $"{lab.Id}bb";
        try
        {
            Assert.Equal(0, lab.Cli("sandbox", "create", a).Code);
            Assert.Equal(0, lab.Cli("sandbox", "create", b).Code);
            string ipB = Inspect(lab, b).GetProperty("ip").GetString()!;
            Assert.Equal(0, Run("ip", ["netns", "exec", a, "ping", "-c1", "-W2", ipB]).Code);

            lab.InHost("ip link del pp0");
            await Eventually(() => lab.InHost("ip -br link").Contains("pp0", StringComparison.Ordinal), 10_000, "pp0 made again");
            await Eventually(() => Run("ip", ["netns", "exec", a, "ping", "-c1", "-W1", ipB]).Code == 0, 10_000, () => $"a pings b again\n{lab.InHost("ip -d link")}");
            Assert.Contains("was deleted behind the service's back; made again", lab.Log, StringComparison.Ordinal);
            Assert.Contains($"portpublisher {Path.GetFullPath(lab.StateDir)}", lab.InHost("ip -d link show pp0"), StringComparison.Ordinal);
        }
        finally
        {
            lab.Cli("sandbox", "rm", a, b);
        }
    }

    [Fact]
    public async Task ASecondService_WithItsOwnStateDirectory_CannotTakeTheFirstsBridge()
    {
        Lab lab = L;
        string a = $"{lab.Id}o1", b = $"{lab.Id}o2";
        string socket = Path.Combine(lab.Dir, "other.sock");
        using Process second = lab.StartOtherDaemon("other.log", ["--socket", socket, "--state-dir", Path.Combine(lab.Dir, "other-state"), "--metrics", string.Empty, "--table", "other", .. SandboxLabFixture.ServiceArgs]);
        try
        {
            Assert.Equal(0, lab.Cli("sandbox", "create", a).Code);
            string[] other = [.. Lab.CliCommand, "-H", $"unix://{socket}"];
            await Eventually(() => Run(other[0], [.. other[1..], "status"]).Code == 0, 20_000, "the second service answers");

            (int code, _, string err) = Run(other[0], [.. other[1..], "sandbox", "create", b]);
            Assert.Equal(1, code);
            Assert.Contains($"bridge pp0 belongs to \"portpublisher {Path.GetFullPath(lab.StateDir)}\"", err, StringComparison.Ordinal);
            Assert.False(File.Exists($"/run/netns/{b}"));
            Assert.Equal(0, Run("ip", ["netns", "exec", a, "ping", "-c1", "-W2", Inspect(lab, a).GetProperty("gateway").GetString()!]).Code);
        }
        finally
        {
            second.Kill(entireProcessTree: true);
            second.WaitForExit(10_000);
            lab.Cli("sandbox", "rm", a);
            TrySh($"ip netns del {b}");
        }
    }

    private static void AssertNothingLeft(Lab lab, string name)
    {
        Assert.False(File.Exists($"/run/netns/{name}"), $"/run/netns/{name} left\n{lab.Log}");
        Assert.False(Directory.Exists($"/etc/netns/{name}"), $"/etc/netns/{name} left");
        Assert.False(File.Exists($"/run/portpublisher/uts/{name}"), "UTS pin left");
        Assert.DoesNotContain(name, lab.Cli("sandbox", "ls").Stdout, StringComparison.Ordinal);

        // Every veth in the host namespace belongs to a listed sandbox.
        string[] veths = [.. lab.InHost("ip -br link").Split('\n').Select(l => l.Split('@', ' ')[0]).Where(n => n.StartsWith("veth", StringComparison.Ordinal))];
        string all = lab.Cli("sandbox", "ls", "--json").Stdout;
        Assert.All(veths, v => Assert.Contains(v, all, StringComparison.Ordinal));
    }

    private static void RemoveLeftovers(string name)
    {
        TrySh($"umount -l /run/netns/{name}; rm -f /run/netns/{name}; umount -l /run/portpublisher/uts/{name}; rm -f /run/portpublisher/uts/{name}; rm -rf /etc/netns/{name}");
    }

    private static bool StateMentions(Lab lab, string text)
    {
        try
        {
            return File.ReadAllText(Path.Combine(lab.StateDir, "sandboxes.json")).Contains(text, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool SandboxExists(Lab lab, string name) => lab.Cli("sandbox", "inspect", name).Code == 0;

    private static int CountOf(string text, string what) => text.Split(what).Length - 1;

    private static Process StartCli(Lab lab, string[] args)
    {
        var psi = new ProcessStartInfo(Lab.CliCommand[0], [.. Lab.CliCommand[1..], "-H", $"unix://{lab.Socket}", .. args])
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static JsonElement Inspect(Lab lab, string name)
    {
        (int code, string stdout, string stderr) = lab.Cli("sandbox", "inspect", name);
        Assert.True(code == 0, stderr);
        using JsonDocument d = JsonDocument.Parse(stdout);
        return d.RootElement.Clone();
    }

    private static (int, string) Out((int Code, string Stdout, string Stderr) r) => (r.Code, r.Stdout);
}
