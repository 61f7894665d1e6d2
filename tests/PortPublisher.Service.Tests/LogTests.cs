using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The service's log as an operator reads it: no framework chatter per request or scrape, one line with its duration
/// per publish and unpublish, and, when its output is the journal's stream, syslog priority prefixes.
/// </summary>
[Trait("Category", "Netns")]
public sealed class LogTests
{
    [Fact]
    public async Task RequestsAndScrapes_LogNothing_AndAPublishLogsOneLineWithItsDuration()
    {
        await using Lab lab = await Lab.StartAsync();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(0, lab.Cli(i % 2 == 0 ? "ls" : "status").Code);
            lab.InHost($"curl -sf -o /dev/null http://127.0.0.1:{lab.MetricsPort}/metrics");
        }

        Assert.Equal(1, lab.Cli("port", "nosuch").Code);
        Assert.Equal(0, lab.Cli("publish", "quiet", "--netns", lab.Container, "-p", "7801:80").Code);
        Assert.Equal(0, lab.Cli("unpublish", "quiet").Code);

        // The unpublish line comes after every earlier request's lines would have (one logger queue, in order).
        await Eventually(() => lab.Log.Contains("Unpublished quiet", StringComparison.Ordinal), 10_000, "the unpublish line");
        string log = lab.Log;
        Assert.DoesNotContain("Microsoft.", log, StringComparison.Ordinal);
        string[] lines = [.. log.Split('\n').Where(l => l.Contains("quiet", StringComparison.Ordinal))];
        Assert.Equal(2, lines.Length);
        Assert.Matches(@" info: PortPublisher\.Service\.Publications\.Publisher\[1000\] Published quiet in \S+: 2 bindings in \d+(\.\d)? ms: 0\.0\.0\.0:7801->80/tcp\(nat\), \[::\]:7801->80/tcp\(proxy\)$", lines[0]);
        Assert.Matches(@" info: PortPublisher\.Service\.Publications\.Publisher\[1001\] Unpublished quiet: 2 bindings in \d+(\.\d)? ms$", lines[1]);

        // The start: our lines (the restore with its duration, where it listens), nothing from the host or Kestrel.
        string[] info = [.. log.Split('\n').Where(l => l.Contains(" info: ", StringComparison.Ordinal))];
        Assert.Single(info, l => Regex.IsMatch(l, @"PublicationManager\[1003\] Restored 0 publications with 0 bindings; nftables [^;]+; \d+(\.\d)? ms$"));
        Assert.Single(info, l => l.EndsWith($"[1010] Control API on unix:{lab.Socket}; metrics on 127.0.0.1:{lab.MetricsPort}", StringComparison.Ordinal));
        Assert.All(info, l => Assert.Contains(" info: PortPublisher", l, StringComparison.Ordinal)); // ours only
    }

    /// <summary>
    /// systemd sets JOURNAL_STREAM to the device and inode of the stream it gave the service; here that stream is a file,
    /// and the variable names it, as it would name the journal's socket.
    /// </summary>
    [Fact]
    public async Task OnTheJournalsStream_LinesCarrySyslogPriorities()
    {
        await using Lab lab = await Lab.StartAsync();
        lab.StopService(kill: false);
        string log = Path.Combine(lab.Dir, "journal.log");
        await File.WriteAllTextAsync(log, string.Empty, TestContext.Current.CancellationToken);
        string stream = Sh($"stat -c %d:%i {log}").Trim();
        using Process daemon = lab.StartOtherDaemon("journal.log", new Dictionary<string, string> { ["JOURNAL_STREAM"] = stream }, "--socket", lab.Socket, "--state-dir", lab.StateDir, "--metrics", "");
        try
        {
            Assert.Equal(0, lab.Cli("status", "--wait", "30").Code);
            Assert.Equal(0, lab.Cli("publish", "jrnl", "--netns", lab.Container, "-p", "127.0.0.1:7802:80").Code);
            Assert.Equal(1, lab.Cli("publish", "jrnl2", "--netns", $"{lab.Id}-missing", "-p", "127.0.0.1:7803:80").Code); // a warning
            await Eventually(() => File.ReadAllText(log).Contains("jrnl2 failed", StringComparison.Ordinal), 10_000, "the warning line");
            string[] lines = [.. File.ReadAllLines(log).Where(l => l.Length > 0)];
            Assert.Contains(lines, l => Regex.IsMatch(l, @"^<6>PortPublisher\.Service\.Publications\.Publisher\[1000\] Published jrnl in \S+: 1 bindings in [\d.]+ ms: "));
            Assert.Contains(lines, l => l.StartsWith("<4>PortPublisher.Service.Publications.Publisher[1002] Publish jrnl2 failed at open target: no such network namespace", StringComparison.Ordinal));
            Assert.All(lines, l => Assert.Matches(@"^<[0-7]>", l)); // every line, and no timestamps: the journal adds its own
        }
        finally
        {
            daemon.Kill();
            daemon.WaitForExit(10_000);
        }
    }
}
