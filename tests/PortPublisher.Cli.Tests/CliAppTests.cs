using PortPublisher.Core.Api;
using Xunit;

namespace PortPublisher.Cli.Tests;

public class CliAppTests
{
    private const string WebJson = """{"name":"web","netns":"web","bindings":[{"hostIp":"0.0.0.0","hostPort":49155,"protocol":"tcp","containerPort":80},{"hostIp":"::","hostPort":49155,"protocol":"tcp","containerPort":80},{"hostIp":"127.0.0.1","hostPort":5353,"protocol":"udp","containerPort":53}]}""";

    private static async Task<(int Exit, string Out, string Err)> Run(string? host, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await new CliApp(stdout, stderr, name => name == "PORTPUBLISHER_HOST" ? host : null).RunAsync(args, TestContext.Current.CancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Publish_OneBadSpecAmongManyFailsBeforeAnyRequest()
    {
        await using var service = new FakeService((_, _, _) => (200, WebJson));
        string[] specs = ["80", "8080:80", "53/udp", "99999", "127.0.0.1:8081:80", "[::1]:8082:80", "9000-9010:80", "1/icmp", "8443:443", "6000-6001:7000-7001"];
        (int exit, string stdout, string stderr) = await Run(service.Host, ["publish", "web", "--netns", "web", .. specs.SelectMany(s => new[] { "-p", s })]);
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Equal("", stdout);
        Assert.Equal("portpublisher: invalid -p \"99999\": invalid containerPort: 99999\nportpublisher: invalid -p \"1/icmp\": invalid proto: icmp\n", stderr);
        Assert.Equal(0, service.Connections);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("-web")]
    [InlineData("we b")]
    public async Task Publish_BadNameFailsBeforeAnyRequest(string name)
    {
        await using var service = new FakeService((_, _, _) => (200, WebJson));
        (int exit, _, string stderr) = await Run(service.Host, "publish", name, "--netns", "web", "-p", "80");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains($"Invalid publication name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", stderr, StringComparison.Ordinal);
        Assert.Equal(0, service.Connections);
    }

    [Fact]
    public async Task Publish_WithoutServiceSaysWhereItLooked()
    {
        string path = Path.Combine(Path.GetTempPath(), $"pp-none-{Guid.NewGuid():N}.sock");
        (int exit, string stdout, string stderr) = await Run(null, "-H", $"unix://{path}", "publish", "web", "--netns", "web", "-p", "80");
        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith($"portpublisher: cannot connect to {path}: no such socket", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publish_SendsTheSpecsAsTypedAndPrintsBindingsLikeDockerPort()
    {
        await using var service = new FakeService((_, _, _) => (201, WebJson));
        (int exit, string stdout, _) = await Run(service.Host, "publish", "web", "--netns", "web", "-p", "80", "-p", "127.0.0.1:5353:53/udp", "--mode", "nat");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:49155\n80/tcp -> [::]:49155\n", stdout);
        Assert.Equal("""POST /v1/publications {"name":"web","netns":"web","specs":["80","127.0.0.1:5353:53/udp"],"mode":"nat","dryRun":false}""", Assert.Single(service.Requests));
    }

    [Fact]
    public async Task Publish_WithoutModeLeavesTheChoiceToTheService()
    {
        // The service's own --mode (say nat) must apply: the CLI sends no mode unless given one.
        await using var service = new FakeService((_, _, _) => (201, WebJson));
        (int exit, _, _) = await Run(service.Host, "publish", "web", "--netns", "web", "-p", "80");
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("""POST /v1/publications {"name":"web","netns":"web","specs":["80"],"dryRun":false}""", Assert.Single(service.Requests));
    }

    [Theory]
    [InlineData(new[] { "port", "web" }, "53/udp -> 127.0.0.1:5353\n80/tcp -> 0.0.0.0:49155\n80/tcp -> [::]:49155\n", "", 0)]
    [InlineData(new[] { "port", "web", "80" }, "0.0.0.0:49155\n[::]:49155\n", "", 0)]
    [InlineData(new[] { "port", "web", "53" }, "", "Error: No public port '53' published for web\n", 1)]
    [InlineData(new[] { "port", "/web", "53/udp" }, "127.0.0.1:5353\n", "", 0)]
    [InlineData(new[] { "port", "web", "--legacy-format" }, "80/tcp -> 0.0.0.0:49155\n80/tcp -> :::49155\n53/udp -> 127.0.0.1:5353\n", "", 0)]
    [InlineData(new[] { "port", "missing" }, "", "Error response from daemon: No such container: missing\n", 1)]
    [InlineData(new[] { "port", "/missing" }, "", "Error response from daemon: No such container: /missing\n", 1)]
    public async Task Port_PrintsWhatDockerPortPrints(string[] args, string stdout, string stderr, int exit)
    {
        // The native route says "no such publication"; `port` still prints docker's words, with the name as typed.
        await using var service = new FakeService((_, path, _) => path == "/v1/publications/web"
            ? (200, WebJson)
            : (404, """{"message":"no such publication: missing"}"""));
        Assert.Equal((exit, stdout, stderr), await Run(service.Host, args));
    }

    [Fact]
    public async Task Ls_PrintsATableWithTheCarrierOfEachPublication()
    {
        const string Mixed = """{"name":"web","netns":"web","bindings":[{"hostIp":"0.0.0.0","hostPort":49155,"protocol":"tcp","containerPort":80,"carrier":"nat"},{"hostIp":"::","hostPort":49155,"protocol":"tcp","containerPort":80,"carrier":"proxy"}]}""";
        const string Nat = """{"name":"db","netns":"/proc/42/ns/net","bindings":[{"hostIp":"127.0.0.1","hostPort":5432,"protocol":"tcp","containerPort":5432,"carrier":"nat"}]}""";
        const string Proxy = """{"name":"lo-only","netns":"lo","bindings":[{"hostIp":"::1","hostPort":8080,"protocol":"tcp","containerPort":80,"carrier":"proxy"}]}""";
        const string Host = """{"name":"hostnet","netns":"host","bindings":[]}""";
        await using var service = new FakeService((_, _, _) => (200, $"[{Mixed},{Nat},{Proxy},{Host}]"));
        (int exit, string stdout, _) = await Run(service.Host, "ls");
        Assert.Equal(0, exit);
        Assert.Equal(
            """
            NAME      NETNS             CARRIER   PORTS
            db        /proc/42/ns/net   nat       127.0.0.1:5432->5432/tcp
            hostnet   host              -
            lo-only   lo                proxy     [::1]:8080->80/tcp
            web       web               mixed     0.0.0.0:49155->80/tcp, [::]:49155->80/tcp

            """.ReplaceLineEndings("\n"),
            stdout);
    }

    [Fact]
    public async Task Unpublish_ServiceErrorExitsOne()
    {
        await using var service = new FakeService((_, _, _) => (404, """{"message":"no such publication: web"}"""));
        (int exit, _, string stderr) = await Run(service.Host, "unpublish", "web");
        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Equal("portpublisher: no such publication: web\n", stderr);
        Assert.Equal("DELETE /v1/publications/web", Assert.Single(service.Requests));
    }

    [Theory]
    [InlineData("publish", "web")]
    [InlineData("port")]
    [InlineData("bogus")]
    [InlineData("publish", "web", "--netns", "n", "-p", "80", "--mode", "fast")]
    public async Task BadUsageExitsTwo(params string[] args) => Assert.Equal(ExitCodes.Usage, (await Run("unix:///nonexistent.sock", args)).Exit);

    [Fact]
    public async Task Help_ExitsZero()
    {
        foreach (string verb in new[] { "publish", "port", "unpublish", "ls", "status", "cleanup" })
        {
            (int exit, string stdout, _) = await Run(null, verb, "--help");
            Assert.Equal(0, exit);
            Assert.Contains("Usage:", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ApiJsonIsCamelCase() =>
        Assert.Equal("""{"message":"x"}""", System.Text.Json.JsonSerializer.Serialize(new ErrorDto("x"), ApiJsonContext.Default.ErrorDto));
}
