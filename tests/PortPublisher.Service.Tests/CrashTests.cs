using System.Diagnostics;
using System.Globalization;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>kill -9 in the middle of a large publish, then a restart: what the service says and what the kernel holds agree.</summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class CrashTests
{
    private static readonly TimeSpan s_cliDeadline = TimeSpan.FromSeconds(15);

    /// <summary>
    /// The range is 0.0.0.0 only, so all 5,000 bindings are NAT'ed. The kill points cycle through: while its host sockets are reserved,
    /// early and late (the daemon's descriptor count past a random mark), and as soon as the state file names the
    /// publication (saved; the tables and listeners being programmed).
    /// </summary>
    [Fact]
    public async Task Kill9DuringA5000PortRangePublish_StatePortTablesAndListenersAgreeAfterRestart()
    {
        int kills = Soak.Count("KILLS", 3);
        int seed = Environment.TickCount;
        var random = new Random(seed);
        await using Lab lab = await Lab.StartAsync();
        Assert.Equal(0, lab.Cli(s_cliDeadline, "publish", "anchor", "--netns", lab.Container, "-p", "8080:80", "-p", "127.0.0.1:8081:80", "-p", "5353:53/udp").Code);
        string journal = Path.Combine(lab.StateDir, "state.journal");
        var outcomes = new List<string>();
        for (int k = 0; k < kills; k++)
        {
            int pid = lab.ServicePid;
            int fdsBefore = Proc.FdCount(pid);
            string point = (k % 3) switch
            {
                0 => $"fds+{random.Next(1, 2500)}",
                1 => $"fds+{random.Next(2500, 5000)}",
                _ => "state saved",
            };
            int mark = point.StartsWith("fds+", StringComparison.Ordinal) ? fdsBefore + int.Parse(point[4..], CultureInfo.InvariantCulture) : int.MaxValue;
            Task<(int Code, string Stdout, string Stderr)> publish = Task.Run(() => lab.Cli(s_cliDeadline, "publish", "range", "--netns", lab.Container, "-p", "0.0.0.0:20000-24999:20000-24999"));

            // A tight poll, not a timer: reserving 10,000 sockets takes about 100 ms.
            var sw = Stopwatch.StartNew();
            while (!publish.IsCompleted && sw.Elapsed < s_cliDeadline
                   && (mark == int.MaxValue ? !(File.Exists(journal) && File.ReadAllText(journal).Contains("\"range\"", StringComparison.Ordinal)) : Proc.FdCount(pid) < mark))
            {
                Thread.Yield();
            }

            bool during = !publish.IsCompleted;
            lab.StopService(kill: true);
            (int code, _, string err) = await publish.WaitAsync(s_cliDeadline);
            await lab.StartServiceAsync();
            List<Agreement.Binding> bindings = Agreement.Assert(lab);
            bool kept = bindings.Any(b => b.Publication == "range");
            Assert.True(bindings.Count(b => b.Publication == "anchor") == 5, "the publication made before the crash survived it");
            outcomes.Add($"{point}{(during ? string.Empty : " (publish had already answered)")}: cli {code}{(code is 0 or 69 ? string.Empty : $" ({err.Trim()})")}, {(kept ? "restored" : "dropped")}");
            if (kept)
            {
                Assert.Equal(5000, bindings.Count(b => b.Publication == "range"));
                Assert.Equal(0, lab.Cli(s_cliDeadline, "unpublish", "range").Code);
                Agreement.Assert(lab);
            }
        }

        Soak.Report($"| kill -9 during a 5,000-port publish | {kills} kills (seed {seed}): {string.Join("; ", outcomes)} | state, port, maps and listeners agree after each restart |");
    }
}
