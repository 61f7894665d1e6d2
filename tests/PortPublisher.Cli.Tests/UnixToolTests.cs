using Xunit;

namespace PortPublisher.Cli.Tests;

/// <summary>The CLI as a Unix tool: one-line errors naming the bad part, version and help that agree, a wait with a deadline.</summary>
public class UnixToolTests
{
    private const string StatusJson = """{"version":"1.2.3+abc","backend":"nftables (tables ip/ip6 pp) + userland proxy","publications":1,"bindings":2,"sysctls":{"net.ipv4.ip_forward":"1"},"mode":"nat","table":"pp","stateDir":"/var/lib/pp","socket":"/run/pp.sock","openFileLimit":1048576}""";

    private static Task<(int Exit, string Out, string Err)> Run(params string[] args) => RunWithHostVariable(null, args);

    private static async Task<(int Exit, string Out, string Err)> RunWithHostVariable(string? hostEnv, params string[] args)
    {
        CliApp app = App(out StringWriter stdout, out StringWriter stderr, hostEnv);
        int exit = await app.RunAsync(args, TestContext.Current.CancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static CliApp App(out StringWriter stdout, out StringWriter stderr, string? hostEnv = null)
    {
        stdout = new StringWriter();
        stderr = new StringWriter();
        return new CliApp(stdout, stderr, name => name == "PORTPUBLISHER_HOST" ? hostEnv : null);
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:2375", "portpublisher: -H tcp://127.0.0.1:2375: only unix:// sockets are supported (unix:///path/to/socket)\n")]
    [InlineData("relative.sock", "portpublisher: -H relative.sock: use unix:///absolute/path/to/socket\n")]
    public async Task BadHost_IsOneLineNamingIt(string host, string expected)
    {
        foreach (string[] verb in new[] { new[] { "ls" }, ["status"], ["unpublish", "web"], ["cleanup"] })
        {
            Assert.Equal((ExitCodes.Usage, string.Empty, expected), await Run(["-H", host, .. verb]));
        }
    }

    [Fact]
    public async Task BadHostFromTheEnvironment_NamesTheVariable() =>
        Assert.Equal(
            (ExitCodes.Usage, string.Empty, "portpublisher: PORTPUBLISHER_HOST=tcp://h:1: only unix:// sockets are supported (unix:///path/to/socket)\n"),
            await RunWithHostVariable("tcp://h:1", "ls"));

    [Fact]
    public async Task Version_WithHost_PrintsTheCliVersionWithoutAskingTheService()
    {
        await using var service = new FakeService((_, _, _) => (200, StatusJson));
        (int exit, string stdout, string stderr) = await Run("-H", service.Host, "--version");
        Assert.Equal((ExitCodes.Ok, string.Empty), (exit, stderr));
        Assert.Equal(CliApp.Version + "\n", stdout);
        Assert.Matches(@"^\d+\.\d+\.\d+\+[0-9a-f]+$", CliApp.Version); // the informational version, as status prints the service's
        Assert.Equal(0, service.Connections);
    }

    [Fact]
    public async Task TopLevelHelp_AgreesWithTheVerbsHelpOnOptionalArguments()
    {
        (int exit, string top, _) = await Run("--help");
        Assert.Equal(0, exit);
        Assert.Contains("  port <NAME> [<PRIVATE_PORT[/PROTO]>]  ", top, StringComparison.Ordinal);
        Assert.DoesNotContain("<NAME> <PRIVATE_PORT", top, StringComparison.Ordinal);

        // The description column stays aligned after the longer label.
        string[] rows = [.. top[top.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1).TakeWhile(l => l.Length > 0)];
        Assert.Equal(["publish", "port", "unpublish", "ls", "status", "cleanup", "sandbox", "exec"], rows.Select(r => r.Trim().Split(' ')[0]));
        Assert.Single(rows.Select(r => r.IndexOf("  ", 2, StringComparison.Ordinal) + r[r.IndexOf("  ", 2, StringComparison.Ordinal)..].TakeWhile(c => c == ' ').Count()).Distinct());

        (_, string verb, _) = await Run("port", "--help");
        Assert.Contains(" port <NAME> [<PRIVATE_PORT[/PROTO]>] [options]", verb, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoCommand_IsUsage() =>
        Assert.Equal(
            (ExitCodes.Usage, string.Empty, "portpublisher: a command is required (publish, port, unpublish, ls, status, cleanup, sandbox, exec)\nSee 'portpublisher --help'.\n"),
            await Run());

    [Fact]
    public async Task DryRun_IsMarkedOnStderrAndStdoutIsThePlan()
    {
        await using var service = new FakeService((_, _, _) => (200, """{"name":"web","netns":"web","bindings":[{"hostIp":"0.0.0.0","hostPort":8080,"protocol":"tcp","containerPort":80}]}"""));
        (int exit, string stdout, string stderr) = await Run("-H", service.Host, "publish", "web", "--netns", "web", "-p", "8080:80", "--dry-run");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("dry run: nothing was published\n", stderr);
        Assert.Equal("80/tcp -> 0.0.0.0:8080\n", stdout);
        Assert.Contains("\"dryRun\":true", Assert.Single(service.Requests), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Status_PrintsTheServicesVersionAndSettings()
    {
        await using var service = new FakeService((_, _, _) => (200, StatusJson));
        (int exit, string stdout, _) = await Run("-H", service.Host, "status");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal(
            """
            Version:      1.2.3+abc
            Backend:      nftables (tables ip/ip6 pp) + userland proxy
            Mode:         nat
            Table:        ip pp, ip6 pp
            State dir:    /var/lib/pp
            Socket:       /run/pp.sock
            Open files:   1048576
            Publications: 1
            Bindings:     2
            Sysctls:
              net.ipv4.ip_forward = 1

            """.ReplaceLineEndings("\n"),
            stdout);
    }

    [Fact]
    public async Task StatusWait_ReturnsOnceTheServiceAnswers()
    {
        string dir = Directory.CreateTempSubdirectory("pp-wait-").FullName;
        string socket = Path.Combine(dir, "pp.sock");
        try
        {
            // The service appears only after the CLI has found no socket and started waiting.
            CliApp app = App(out StringWriter stdout, out _);
            var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            app.Retrying = _ => waiting.TrySetResult();
            Task<int> run = app.RunAsync(["-H", $"unix://{socket}", "status", "--wait", "30"], TestContext.Current.CancellationToken);
            await waiting.Task.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken);
            Assert.False(run.IsCompleted);
            await using var service = new FakeService((_, _, _) => (200, StatusJson), socket);
            Assert.Equal(ExitCodes.Ok, await run.WaitAsync(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken));
            Assert.StartsWith("Version:      1.2.3+abc\n", stdout.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task StatusWait_KeepsWaitingWhileTheServiceAnswers503()
    {
        int calls = 0;
        await using var service = new FakeService((_, _, _) => Interlocked.Increment(ref calls) < 3 ? (503, """{"message":"the service is stopping"}""") : (200, StatusJson));
        CliApp app = App(out _, out _);
        int retries = 0;
        app.Retrying = n => retries = n;
        Assert.Equal(ExitCodes.Ok, await app.RunAsync(["-H", service.Host, "status", "--wait", "30"], TestContext.Current.CancellationToken));
        Assert.Equal(2, retries);
    }

    [Fact]
    public async Task StatusWait_GivesUpAtTheDeadlineWith69AndTheLastReason()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pp-none-{Guid.NewGuid():N}.sock");
        CliApp app = App(out StringWriter stdoutWriter, out StringWriter stderrWriter);
        int retries = 0;
        app.Retrying = n => retries = n;
        int exit = await app.RunAsync(["-H", $"unix://{path}", "status", "--wait", "1"], TestContext.Current.CancellationToken);
        (string stdout, string stderr) = (stdoutWriter.ToString(), stderrWriter.ToString());
        Assert.Equal((ExitCodes.Unavailable, string.Empty), (exit, stdout));

        // The reason is the last attempt's: "cannot connect to PATH: no such socket", or, when the deadline cut a slow
        // first attempt short (a cold start), "the service at PATH did not answer".
        Assert.Matches($@"^portpublisher: not ready within 1 s: (cannot connect to {path}: no such socket|the service at {path} did not answer)\. Is portpublisherd running\?\n$", stderr);
        Assert.True(retries >= 1, "it gave up without waiting");
    }

    [Theory]
    [InlineData("x")]
    [InlineData("-1")]
    [InlineData("0")]
    public async Task StatusWait_BadSecondsIsUsage(string seconds) =>
        Assert.Equal(
            (ExitCodes.Usage, string.Empty, $"portpublisher: invalid --wait \"{seconds}\": use a number of seconds, such as 30\n"),
            await Run("-H", "unix:///nonexistent.sock", "status", "--wait", seconds));

    [Fact]
    public async Task Cleanup_BadTableIsUsageAndTouchesNothing()
    {
        await using var service = new FakeService((_, _, _) => (200, "[]"));
        Assert.Equal(
            (ExitCodes.Usage, string.Empty, "portpublisher: invalid --table \"no way\": a letter, then up to 30 letters, digits, '_' or '-'\n"),
            await Run("-H", service.Host, "cleanup", "--table", "no way"));
        Assert.Equal(0, service.Connections);
    }

    /// <summary>
    /// A user who may not open the socket (a 0660 root:root socket, as the service makes it, in a directory anyone may
    /// enter) is told so, with exit 77, and not that the service is not running; a missing socket still says that.
    /// The CLI runs as its own process under setpriv as nobody.
    /// </summary>
    [Fact]
    public async Task UnprivilegedUser_IsToldPermissionDeniedNotNotRunning()
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("needs root to own the socket and to run the CLI as another user (setpriv); CI runs as root");
        }

        string dir = Directory.CreateTempSubdirectory("pp-perm-").FullName;
        File.SetUnixFileMode(dir, (UnixFileMode)0x1ED /* 0755 */);
        string socket = Path.Combine(dir, "pp.sock");
        try
        {
            await using var service = new FakeService((_, _, _) => (200, "[]"), socket);
            File.SetUnixFileMode(socket, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            (int code, string stdout, string stderr) = await AsNobodyAsync("-H", $"unix://{socket}", "ls");
            Assert.Equal((ExitCodes.NoPermission, string.Empty), (code, stdout));
            Assert.Equal($"portpublisher: permission denied on {socket}: only root and the socket's group may use it (are you in the portpublisher group, or root?)\n", stderr);
            Assert.Equal(0, service.Connections);

            (code, _, stderr) = await AsNobodyAsync("-H", $"unix://{dir}/missing.sock", "ls");
            Assert.Equal((ExitCodes.Unavailable, $"portpublisher: cannot connect to {dir}/missing.sock: no such socket. Is portpublisherd running?\n"), (code, stderr));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static Task<(int Exit, string Out, string Err)> AsNobodyAsync(params string[] args) =>
        CliProcess.RunAsync(CliProcess.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"), args);
}
