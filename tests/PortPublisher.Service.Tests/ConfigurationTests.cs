using Xunit;
using static PortPublisher.Service.Tests.Net;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The service's settings under the standard .NET names, from the file, the environment and the command line, in that
/// order of precedence, seen from outside: what `status` reports, the tables that appear, the log level in effect.
/// </summary>
[Trait("Category", "Netns")]
public sealed class ConfigurationTests
{
    [Fact]
    public async Task StandardNames_EnvironmentBeatsTheFileAndTheCommandLineBeatsBoth()
    {
        RequireRoot();
        string dir = Directory.CreateTempSubdirectory("pp-config-").FullName;
        string file = Path.Combine(dir, "portpublisher.json");
        await File.WriteAllTextAsync(file, """
            {
              "PortPublisher": { "Mode": "proxy", "Table": "filetbl" },
              "Logging": { "LogLevel": { "Default": "Warning" } }
            }
            """, TestContext.Current.CancellationToken);
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["Logging__LogLevel__Default"] = "Debug",
                ["PortPublisher__Table"] = "envtbl",
            };
            await using Lab lab = await Lab.StartAsync(containerIPv6: false, environment, "--config", file);
            string status = lab.Cli("status").Stdout;
            Assert.Contains("\nMode:         proxy\n", status, StringComparison.Ordinal); // the file's
            Assert.Contains("\nTable:        ip envtbl, ip6 envtbl\n", status, StringComparison.Ordinal); // the environment's, over the file's
            Assert.Contains("table ip envtbl", lab.InHost("nft list tables"), StringComparison.Ordinal);
            Assert.DoesNotContain("filetbl", lab.InHost("nft list tables"), StringComparison.Ordinal);
            // Debug from the environment, over the file's Warning: a proxied binding's listener logs at Debug (one for the
            // pair 0.0.0.0 and [::]: a dual-stack [::] socket holds both).
            Assert.Equal(0, lab.Cli("publish", "cfg", "--netns", lab.Container, "-p", "7811:80").Code);
            await Eventually(() => lab.Log.Contains(" dbug: PortPublisher.Proxy.UserlandProxy[2000] Proxy tcp [::]:7811 -> ", StringComparison.Ordinal), 10_000, "the Debug line");

            // The command line over the environment; the PORTPUBLISHER_-prefixed names (documented before) still work,
            // and win over the unprefixed ones.
            lab.StopService(kill: false);
            environment = new Dictionary<string, string>
            {
                ["PortPublisher__Mode"] = "nat",
                ["PortPublisher__Table"] = "envtbl",
                ["PORTPUBLISHER_PortPublisher__Table"] = "pfxtbl",
            };
            await lab.StartServiceAsync(environment, null, "--config", file, "--mode", "auto");
            status = lab.Cli("status").Stdout;
            Assert.Contains("\nMode:         auto\n", status, StringComparison.Ordinal);
            Assert.Contains("\nTable:        ip pfxtbl, ip6 pfxtbl\n", status, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
