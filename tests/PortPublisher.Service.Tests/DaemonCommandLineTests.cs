using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// <c>portpublisherd</c> as a Unix tool: help and version answer and exit, and a bad line or value exits 2 with one line
/// naming it, before anything is created. Each run is inside a throwaway namespace (never the root one), and the test
/// checks that no nftables table, state directory or socket appeared.
/// </summary>
[Trait("Category", "Netns")]
public sealed class DaemonCommandLineTests
{
    public static TheoryData<string[], int, string> Cases => new()
    {
        { ["--help"], 0, "Usage:" },
        { ["--version"], 0, "1.0.0" },
        { ["--bogus"], 2, "portpublisherd: Unrecognized command or argument '--bogus'." },
        { ["--mode", "bogus"], 2, "portpublisherd: invalid --mode \"bogus\": use auto, nat or proxy" },
        { ["--metrics", "nonsense"], 2, "portpublisherd: invalid --metrics \"nonsense\": use ADDR:PORT" },
        { ["--dynamic-ports", "6000-5000"], 2, "portpublisherd: invalid --dynamic-ports \"6000-5000\": use START-END" },
        { ["--dynamic-ports", "0-70000"], 2, "portpublisherd: invalid --dynamic-ports \"0-70000\"" },
        { ["--table", "bad name"], 2, "portpublisherd: invalid --table \"bad name\"" },
        { ["--max-connections", "0"], 2, "portpublisherd: invalid --max-connections \"0\": use 1 to 1048576" },
        { ["--metrics-per-binding", "maybe"], 2, "portpublisherd: invalid --metrics-per-binding \"maybe\": use true or false" },
        { ["--max-connections", "many"], 2, "--max-connections" },
        { ["--config", "/nonexistent/pp.json"], 2, "portpublisherd: invalid --config \"/nonexistent/pp.json\": no such file" },
        { ["--config", "/proc/self/status"], 2, "portpublisherd: invalid configuration file /proc/self/status: " },
        { ["--socket-group", "ppnosuchgroup"], 2, "portpublisherd: invalid --socket-group \"ppnosuchgroup\": no such group" },
        { ["--host-mount-namespace", "/nonexistent"], 2, "portpublisherd: invalid --host-mount-namespace \"/nonexistent\": " },
        { ["--host-mount-namespace", "/proc/self/ns/net"], 2, "not a mount namespace" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AnswersOrRefusesBeforeTouchingAnything(string[] args, int exit, string expected)
    {
        RequireRoot();
        string ns = $"ppcl{Guid.NewGuid().ToString("N")[..8]}";
        string dir = Directory.CreateTempSubdirectory("pp-cl-").FullName;
        Sh($"ip netns add {ns}");
        try
        {
            string state = Path.Combine(dir, "state"), socket = Path.Combine(dir, "s.sock");
            string[] where = args is ["--help"] or ["--version"] ? [] : ["--state-dir", state, "--socket", socket];
            (int code, string stdout, string stderr) = Run("ip", ["netns", "exec", ns, "dotnet", Lab.ServiceDll, .. args, .. where]);
            Assert.True(code == exit, $"exit {code}:\n{stdout}\n{stderr}");
            Assert.Contains(expected, exit == 0 ? stdout : stderr, StringComparison.Ordinal);
            if (exit != 0)
            {
                Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // no stack trace
                Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("portpublisherd: ", StringComparison.Ordinal));
            }

            Assert.False(Directory.Exists(state), "the state directory was created");
            Assert.False(File.Exists(socket), "the socket was created");
            Assert.Equal(string.Empty, Sh($"ip netns exec {ns} nft list tables").Trim());
        }
        finally
        {
            TrySh($"ip netns del {ns}");
            Directory.Delete(dir, recursive: true);
        }
    }
}
