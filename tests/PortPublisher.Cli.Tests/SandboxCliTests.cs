using Xunit;

namespace PortPublisher.Cli.Tests;

public class SandboxCliTests
{
    private static async Task<(int Exit, string Out, string Err)> Run(string? host, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = await new CliApp(stdout, stderr, name => name == "PORTPUBLISHER_HOST" ? host : null).RunAsync(args, TestContext.Current.CancellationToken);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Create_EveryBadPartIsNamedBeforeAnyRequest()
    {
        await using var service = new FakeService((_, _, _) => (201, "{}"));
        (int exit, string stdout, string stderr) = await Run(service.Host, "sandbox", "create", "a2", "--network", "container:a1", "--hostname", "h", "-p", "80", "--add-host", "bad");
        Assert.Equal((ExitCodes.Usage, string.Empty), (exit, stdout));
        Assert.Equal(
            "portpublisher: conflicting options: hostname and the network mode\n" +
            "portpublisher: conflicting options: custom host-to-IP mapping and the network mode\n" +
            "portpublisher: invalid argument \"bad\" for \"--add-host\" flag: bad format for add-host: \"bad\"\n" +
            "portpublisher: conflicting options: port publishing and the container type network mode\n",
            stderr);
        Assert.Equal(0, service.Connections);
    }

    [Fact]
    public async Task Exec_KeepsTheCommandsOwnOptions_AndABadNameIsUsage()
    {
        await using var service = new FakeService((_, _, _) => (404, """{"message":"No such sandbox: web"}"""));

        // -m and -H after the command are python's and curl's: the service is still asked about "web" first.
        (int exit, _, string stderr) = await Run(service.Host, "exec", "web", "python3", "-m", "http.server", "-H", "x");
        Assert.Equal((ExitCodes.Failed, "portpublisher: No such sandbox: web\n"), (exit, stderr));
        Assert.Equal(1, service.Connections);

        (exit, _, stderr) = await Run(service.Host, "exec", "..", "--", "true");
        Assert.Equal((ExitCodes.Usage, "portpublisher: Invalid netns name \"..\"\n"), (exit, stderr));
        Assert.Equal(1, service.Connections);
    }
}
