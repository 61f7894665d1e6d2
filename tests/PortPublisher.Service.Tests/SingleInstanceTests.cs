using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>
/// One service per state directory, per nftables table in a namespace, and per control socket: a second portpublisherd
/// that would share any of them must refuse to start, name the PID that holds it, and touch nothing the first one owns.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class SingleInstanceTests
{
    [Theory]
    [InlineData("same state directory and socket", "using state directory")]
    [InlineData("same state directory, other socket", "using state directory")]
    [InlineData("same table in the namespace, other state directory and socket", "manages nftables table 'portpublisher'")]
    [InlineData("same socket, other state directory and table", "is listening on")]
    public async Task SecondInstanceSharingWhatTheFirstOwns_ExitsNamingTheHolderAndChangesNothing(string shares, string message)
    {
        await using Lab lab = await Lab.StartAsync();
        var deadline = TimeSpan.FromSeconds(15);
        Assert.Equal(0, lab.Cli(deadline, "publish", "web", "--netns", lab.Container, "-p", "8080:80", "-p", "127.0.0.1:8081:80").Code);
        Assert.Equal(0, lab.Cli(deadline, "publish", "px", "--netns", lab.Container, "--mode", "proxy", "-p", "8090:80").Code);
        byte[] state = SavedState(lab);
        string ruleset = lab.InHost("nft -s list ruleset");
        HashSet<string> listeners = Agreement.Listeners(lab);
        string port = lab.Cli(deadline, "port", "web").Stdout;

        bool sameState = shares.StartsWith("same state", StringComparison.Ordinal);
        bool sameSocket = shares is "same state directory and socket" or "same socket, other state directory and table";
        string socket = sameSocket ? lab.Socket : Path.Combine(lab.Dir, "second.sock");
        string[] table = shares.StartsWith("same socket", StringComparison.Ordinal) ? ["--table", "other"] : [];
        using Process second = lab.StartOtherDaemon("second.log", ["--socket", socket, "--state-dir", sameState ? lab.StateDir : Path.Combine(lab.Dir, "state2"), "--metrics", string.Empty, .. table]);
        try
        {
            bool exited = second.WaitForExit(15_000);
            string log = File.Exists(Path.Combine(lab.Dir, "second.log")) ? File.ReadAllText(Path.Combine(lab.Dir, "second.log")) : string.Empty;
            Assert.True(exited, $"the second instance was still running after 15 s:\n{log}");
            Assert.True(second.ExitCode != 0, $"the second instance exited 0:\n{log}");
            Assert.Contains($"(PID {lab.ServicePid.ToString(CultureInfo.InvariantCulture)})", log, StringComparison.Ordinal);
            Assert.Contains(message, log, StringComparison.Ordinal);

            // A refused start leaves no state directory of its own behind (the shared one is the first's).
            Assert.True(sameState || !Directory.Exists(Path.Combine(lab.Dir, "state2")), "the refused instance left its new state directory");
        }
        finally
        {
            if (!second.HasExited)
            {
                second.Kill(entireProcessTree: true);
                second.WaitForExit(5000);
            }
        }

        // The first one still owns everything, untouched.
        Assert.True(File.Exists(lab.Socket), "the first instance's socket is gone");
        Assert.Equal(port, lab.Cli(deadline, "port", "web").Stdout);
        Assert.Equal(state, SavedState(lab));
        Assert.Equal(ruleset, lab.InHost("nft -s list ruleset"));
        Assert.Equal(listeners, Agreement.Listeners(lab));
    }

    /// <summary>The snapshot and the journal, as one byte string: what a restart would read.</summary>
    private static byte[] SavedState(Lab lab) =>
        [.. new[] { "state.json", "state.journal" }.Select(f => Path.Combine(lab.StateDir, f)).Where(File.Exists).SelectMany(File.ReadAllBytes)];
}
