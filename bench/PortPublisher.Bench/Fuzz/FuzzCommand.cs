using System.Globalization;
using PortPublisher.Netlink;

namespace PortPublisher.Bench.Fuzz;

/// <summary>
/// <c>fuzz [netlink|spec|all] [--seconds N | --cases N] [--threads N] [--capture]</c>: runs each target under the
/// budget and prints a Markdown table of what the cases came to, then every failure kind with its first input.
/// <c>--capture</c> (root) adds seeds the kernel wrote, from a throwaway namespace. Exit code 1 when anything failed.
/// </summary>
internal static class FuzzCommand
{
    public static int Run(string[] args)
    {
        string which = "all";
        int seconds = 0;
        long cases = 0;
        int threads = 1;
        bool capture = false;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--cases": cases = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--capture": capture = true; break;
                case "netlink" or "spec" or "all": which = args[i]; break;
                default:
                    Console.Error.WriteLine($"fuzz: unknown argument '{args[i]}': fuzz [netlink|spec|all] [--seconds N | --cases N] [--threads N] [--capture]");
                    return 2;
            }
        }

        if (seconds <= 0 && cases <= 0)
        {
            seconds = 60;
        }

        var budget = new FuzzBudget(seconds, cases, threads);
        var tallies = new List<FuzzTally>();
        var reach = new List<string>();
        if (which is "netlink" or "all")
        {
            List<byte[]> seeds = NetlinkSeeds.Build();
            int built = seeds.Count;
            if (capture)
            {
                seeds.AddRange(KernelCapture.Capture());
            }

            var target = new NetlinkFuzzTarget(seeds);
            tallies.Add(FuzzRunner.Run("netlink readers", target.Inputs, target.Run, Convert.ToHexString, budget));
            reach.Add($"netlink readers: {built} seeds built by our writers, {seeds.Count - built} captured from the kernel; reached: {target.Reach}");
        }

        if (which is "spec" or "all")
        {
            string corpus = Path.Combine(FindRepoRoot(), "tests", "PortPublisher.Core.Tests", "TestData", "portspec-docker-28.2.tsv");
            var target = new PortSpecFuzzTarget(PortSpecFuzzTarget.ReadCorpus(corpus));
            tallies.Add(FuzzRunner.Run("-p spec parser", target.Inputs, target.Run, s => Core.Specs.GoNet.Quote(s), budget));
            reach.Add($"-p spec parser: {target.Seeds.Count} corpus seeds; {target.Errors.Count} distinct error texts reached: "
                + string.Join("; ", target.Errors.OrderByDescending(e => e.Value).Select(e => $"\"{e.Key}\" ({e.Value:N0})")));
        }

        Console.WriteLine($"budget: {(seconds > 0 ? $"{seconds} s" : $"{cases:N0} cases")} per target, {threads} thread(s)");
        Console.WriteLine();
        Console.WriteLine("| target | cases | returned | documented exception | failures | failure kinds | seconds | cases/s |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (FuzzTally t in tallies)
        {
            Console.WriteLine($"| {t.Target} | {t.Cases:N0} | {t.Values:N0} | {t.Rejected:N0} | {t.Failures:N0} | {t.FailureKinds.Count} | {t.Elapsed.TotalSeconds:F0} | {t.Cases / Math.Max(t.Elapsed.TotalSeconds, 0.001):N0} |");
        }

        Console.WriteLine();
        foreach (string line in reach)
        {
            Console.WriteLine(line);
        }

        foreach (FuzzTally t in tallies)
        {
            foreach ((string kind, long n) in t.RejectionKinds.OrderByDescending(k => k.Value))
            {
                Console.WriteLine($"{t.Target}: documented rejection {kind}: {n:N0}");
            }

            foreach ((string kind, (long count, string detail, string input)) in t.FailureKinds)
            {
                Console.WriteLine();
                Console.WriteLine($"FAILURE {t.Target}: {kind} ({count:N0} cases); first input: {input}");
                Console.WriteLine(detail);
            }
        }

        return tallies.Any(t => t.Failures > 0) ? 1 : 0;
    }

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("PortPublisher.sln not found above the benchmark's binaries");
    }
}
