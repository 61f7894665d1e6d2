using System.CommandLine;
using PortPublisher.TestKit;
using Xunit;

namespace PortPublisher.Cli.Tests;

/// <summary>
/// The CLI's binary, run as a process, answers byte for byte as <see cref="CliApp"/> does in this process, for every
/// verb and the usual errors, against the same fake service. In CI the binary is the native (NativeAOT) one
/// scripts/test.sh published (<see cref="CliUnderTest"/>): trimming or AOT cannot change an output unseen.
/// </summary>
public class BinaryTests
{
    private const string WebJson = """{"name":"web","netns":"web","bindings":[{"hostIp":"0.0.0.0","hostPort":49155,"protocol":"tcp","containerPort":80,"carrier":"nat"},{"hostIp":"::","hostPort":49155,"protocol":"tcp","containerPort":80,"carrier":"proxy"},{"hostIp":"127.0.0.1","hostPort":5353,"protocol":"udp","containerPort":53,"carrier":"proxy"}],"warnings":["a warning"]}""";
    private const string StatusJson = """{"version":"1.2.3+abc","backend":"nftables (tables ip/ip6 pp) + userland proxy","publications":1,"bindings":3,"sysctls":{"net.ipv4.ip_forward":"1"},"mode":"auto","table":"pp","stateDir":"/var/lib/pp","socket":"/run/pp.sock","openFileLimit":1048576}""";
    private const string SandboxJson = """{"name":"box","id":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","network":"bridge","hostname":"0123456789ab","netns":"/run/netns/box","utsNamespace":"/run/portpublisher/uts/box","etcDir":"/etc/netns/box","ip":"172.17.0.2","subnet":"172.17.0.0/16","gateway":"172.17.0.1","bridge":"pp0","veth":"veth0123456","mac":"02:42:ac:11:00:02","publication":{"name":"box","netns":"/run/netns/box","bindings":[{"hostIp":"0.0.0.0","hostPort":8080,"protocol":"tcp","containerPort":80}]}}""";

    private static readonly string[][] s_cases =
    [
        ["--version"],
        ["-H", "@", "--version"],
        ["--help"],
        ["publish", "--help"],
        ["port", "--help"],
        ["sandbox", "create", "--help"],
        [],
        ["bogus"],
        ["port"],
        ["publish", "web", "--netns", "web", "-p", "8080:80", "-p", "127.0.0.1:5353:53/udp", "--mode", "nat"],
        ["publish", "web", "--netns", "web", "-p", "8080:80", "--dry-run"],
        ["publish", "web", "--netns", "web", "-p", "80", "-p", "99999", "-p", "1/icmp", "--ip", "nope"],
        ["publish", "-web", "--netns", "web", "-p", "80"],
        ["publish", "web", "--netns", "web", "-p", "80", "--mode", "fast"],
        ["port", "web"],
        ["port", "/web", "80"],
        ["port", "web", "53/udp"],
        ["port", "web", "443"],
        ["port", "web", "--legacy-format"],
        ["port", "missing"],
        ["ls"],
        ["ls", "--json"],
        ["status"],
        ["status", "--wait", "x"],
        ["unpublish", "web"],
        ["unpublish", "missing"],
        ["cleanup", "--table", "no way"],
        ["cleanup", "--state-dir", "relative"],
        ["sandbox", "ls"],
        ["sandbox", "ls", "--json"],
        ["sandbox", "inspect", "box"],
        ["sandbox", "create", "a2", "--network", "container:a1", "--hostname", "h", "-p", "80", "--add-host", "bad"],
        ["sandbox", "create", "box", "-p", "8080:80"],
        ["sandbox", "rm", "a/b"],
        ["exec", "..", "--", "true"],
        ["exec", "missing", "true"],
        ["-H", "tcp://127.0.0.1:2375", "ls"],
        ["-H", "relative.sock", "status"],
    ];

    public static TheoryData<string[]> Cases() => new(s_cases);

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Binary_AnswersAsTheInProcessCli(string[] args)
    {
        await using var service = new FakeService(Answer);

        // "@" stands for the fake service's socket; without -H both runs are pointed at it.
        string[] withHost = args.Contains("-H") ? [.. args.Select(a => a == "@" ? service.Host : a)] : ["-H", service.Host, .. args];
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await new CliApp(stdout, stderr, _ => null).RunAsync(withHost, TestContext.Current.CancellationToken);
        int inProcessRequests = service.Requests.Count;

        (int Exit, string Out, string Err) binary = await CliProcess.RunAsync(CliProcess.Command(), withHost);
        // Help's usage lines name the running executable: in this process that is the test host.
        Assert.Equal(stdout.ToString().Replace($"  {RootCommand.ExecutableName} ", "  portpublisher ", StringComparison.Ordinal), binary.Out);
        Assert.Equal(stderr.ToString(), binary.Err);
        Assert.Equal(exit, binary.Exit);
        Assert.Equal(service.Requests.Take(inProcessRequests), service.Requests.Skip(inProcessRequests));
    }

    [Fact]
    public async Task Binary_WithoutAService_SaysWhereItLooked()
    {
        string missing = Path.Combine(Path.GetTempPath(), $"pp-none-{Guid.NewGuid():N}.sock");
        Assert.Equal(
            (ExitCodes.Unavailable, string.Empty, $"portpublisher: cannot connect to {missing}: no such socket. Is portpublisherd running?\n"),
            await CliProcess.RunAsync(CliProcess.Command(), "-H", $"unix://{missing}", "port", "web"));
    }

    /// <summary>What CI tests is what the package ships: a NativeAOT executable that runs with an empty environment.</summary>
    [Fact]
    public async Task NativeBinary_IsNativeAotAndSelfContained()
    {
        Assert.SkipWhen(CliUnderTest.Native is null, $"{CliUnderTest.Variable} is not set: the JIT build is under test (scripts/test.sh publishes the native binary and sets it)");
        string native = CliUnderTest.Native!;

        // NativeAOT's ELF section of compiled managed code; an apphost or a single-file bundle has none.
        byte[] image = await File.ReadAllBytesAsync(native, TestContext.Current.CancellationToken);
        Assert.Equal("\u007fELF"u8.ToArray(), image[..4]);
        Assert.True(image.AsSpan().IndexOf("__managedcode\0"u8) >= 0, $"{native} is not a NativeAOT binary");

        (int exit, string stdout, string stderr) = await CliProcess.RunAsync(["env", "-i", native], "--version");
        Assert.Equal((ExitCodes.Ok, CliApp.Version + "\n", string.Empty), (exit, stdout, stderr)); // and built from this commit
    }

    private static (int Status, string Body) Answer(string method, string path, string body) => (method, path) switch
    {
        ("POST", "/v1/publications") => (201, body.Contains("\"dryRun\":true", StringComparison.Ordinal) ? WebJson.Replace(",\"warnings\":[\"a warning\"]", string.Empty, StringComparison.Ordinal) : WebJson),
        ("GET", "/v1/publications") => (200, $"[{WebJson},{WebJson.Replace("\"web\"", "\"db\"", StringComparison.Ordinal)}]"),
        ("GET" or "DELETE", "/v1/publications/web") => (200, WebJson),
        ("GET", "/v1/status") => (200, StatusJson),
        ("GET", "/v1/sandboxes") => (200, $"[{SandboxJson}]"),
        ("GET", "/v1/sandboxes/box") => (200, SandboxJson),
        ("POST", "/v1/sandboxes") => (201, SandboxJson),
        (_, string p) when p.Contains("missing", StringComparison.Ordinal) => (404, """{"message":"no such publication: missing"}"""),
        _ => (400, """{"message":"unexpected request"}"""),
    };
}
