using System.Globalization;
using System.Text.RegularExpressions;

namespace PortPublisher.Bench;

/// <summary>
/// Issue 13, goal 3: N publications of one port each (<c>-p P:80</c>, 0.0.0.0 and [::], NAT into one dual-stack
/// container namespace) on the real portpublisherd under RLIMIT_NOFILE 20,000. The first and the last are published
/// with the real CLI, the ones between through the same HTTP API (N CLI processes would measure process starts). It
/// reports what publish #1 and #N cost (service-side from the daemon's log, and through the API), <c>ls</c> with all N,
/// a restart (SIGTERM, start, restore + reconcile) and the daemon's VmRSS.
/// </summary>
internal static partial class ScaleManyBench
{
    public static void Run(string configuration, int count, int nofile)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 8);
        int window = Math.Min(100, count / 4);
        using var lab = new ScaleLab(configuration, nofile);
        lab.StartService();
        double rssIdle = lab.RssMiB();
        var api = new double[count];
        double cliFirst = 0, cliLast = 0;
        int from = lab.LogCount;
        for (int i = 1; i <= count; i++)
        {
            string spec = $"{Port(i)}:80";
            if (i == 1 || i == count)
            {
                double ms = lab.Cli($"publish p{i} --netns {lab.Container} -p {spec}");
                if (i == 1)
                {
                    cliFirst = ms;
                }
                else
                {
                    cliLast = ms;
                }
            }
            else
            {
                api[i - 1] = lab.Publish($"p{i}", lab.Container, spec);
            }

            if (i % 1000 == 0)
            {
                Console.Error.WriteLine($"scale-many: {i:N0} published, VmRSS {lab.RssMiB():F0} MiB");
            }
        }

        // Service-side time of every publish, from its log line.
        _ = lab.WaitForLine(from, new Regex($@"Published p{count} in "), TimeSpan.FromSeconds(30));
        var service = new double[count];
        foreach (string line in lab.Lines(from))
        {
            Match m = PublishedLine().Match(line);
            if (m.Success)
            {
                service[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) - 1] = double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture);
            }
        }

        double rssPublished = lab.RssMiB();
        int descriptors = lab.Descriptors();
        var lsCli = Enumerable.Range(0, 3).Select(_ => lab.Cli("ls")).ToList();
        var lsApi = Enumerable.Range(0, 3).Select(_ => lab.List().Ms).ToList();

        lab.StopService();
        int restartFrom = lab.LogCount;
        double answered = lab.StartService();
        Match restored = lab.WaitForLine(restartFrom, RestoredLine(), TimeSpan.FromSeconds(60));
        (_, int after) = lab.List();
        double rssRestarted = lab.RssMiB();

        Console.WriteLine($"# scale-many: {count:N0} publications of `-p P:80` (NAT, 0.0.0.0 and [::]) into one dual-stack namespace, RLIMIT_NOFILE {nofile:N0}");
        Console.WriteLine($"# CLI: `{lab.CliCommand}`");
        Console.WriteLine();
        Console.WriteLine("| measure | value |");
        Console.WriteLine("| --- | ---: |");
        Console.WriteLine($"| publish #1, inside the service (ms) | {service[0]:F1} |");
        Console.WriteLine($"| publish #2–#{window + 1}, inside the service, median (ms) | {Median(service, 1, window + 1):F2} |");
        Console.WriteLine($"| publish #{count - window}–#{count - 1}, inside the service, median (ms) | {Median(service, count - window - 1, count - 1):F2} |");
        Console.WriteLine($"| publish #{count}, inside the service (ms) | {service[count - 1]:F1} |");
        Console.WriteLine($"| … ratio of the last {window} to the first {window}, inside the service | {Median(service, count - window - 1, count - 1) / Median(service, 1, window + 1):F2} |");
        Console.WriteLine($"| publish through the API, first {window} / last {window} medians (ms) | {Median(api, 1, window + 1):F2} / {Median(api, count - window - 1, count - 1):F2} |");
        Console.WriteLine($"| publish through the API, slowest of all (ms) | {api.Max():F1} |");
        Console.WriteLine($"| `portpublisher publish` #1 / #{count} with the CLI (ms) | {cliFirst:F0} / {cliLast:F0} |");
        Console.WriteLine($"| `portpublisher ls` with {count:N0} (CLI, median of 3, ms) | {Median(lsCli):F0} |");
        Console.WriteLine($"| GET /v1/publications with {count:N0} (API, median of 3, ms) | {Median(lsApi):F0} |");
        Console.WriteLine($"| restart: start to first answer (ms) | {answered:F0} |");
        Console.WriteLine($"| restart: restore + reconcile, from its log (ms) | {restored.Groups[3].Value} |");
        Console.WriteLine($"| restart: publications restored / after (of {count:N0}) | {restored.Groups[1].Value} / {after:N0} |");
        Console.WriteLine($"| VmRSS idle / with {count:N0} / after the restart (MiB) | {rssIdle:F0} / {rssPublished:F0} / {rssRestarted:F0} |");
        Console.WriteLine($"| descriptors with {count:N0} | {descriptors:N0} |");
    }

    /// <summary>30000, 30001, …, skipping nothing (exact ports need no dynamic range).</summary>
    private static int Port(int i) => 30000 + i - 1;

    private static double Median(double[] xs, int from, int to) => Shell.Median([.. xs[from..to]]);

    private static double Median(List<double> xs) => Shell.Median([.. xs]);

    [GeneratedRegex(@"Published p(\d+) in \S+: \d+ bindings in ([\d.]+) ms")]
    private static partial Regex PublishedLine();

    [GeneratedRegex(@"Restored (\d+) publications with (\d+) bindings; nftables [^;]+; ([\d.]+) ms")]
    private static partial Regex RestoredLine();
}
