using System.Diagnostics;
using System.Globalization;

namespace PortPublisher.Bench;

/// <summary>
/// The long variants of the Service tests' bounded suites: the same tests (hang repro under proxied load and over a
/// 5,000-port proxied range, publish/unpublish churn under traffic, kill -9 during a range publish), run against the
/// Release binaries with larger counts passed as PORTPUBLISHER_SOAK_* variables. Each test appends a Markdown row to
/// a report file, printed at the end. Every wait in those tests has its own deadline; this adds one for the whole run.
/// </summary>
internal static class SoakBench
{
    private const string Filter = "FullyQualifiedName~PortPublisher.Service.Tests.ProxyHangTests|FullyQualifiedName~PortPublisher.Service.Tests.ChurnSoakTests|FullyQualifiedName~PortPublisher.Service.Tests.CrashTests";

    public static int Run(int cycles, int hangRounds, int kills, int rangeCycles, int transferMb)
    {
        string root = FindRepoRoot();
        string report = Path.Combine(Path.GetTempPath(), $"pp-soak-{Environment.ProcessId}.md");
        File.WriteAllText(report, string.Empty);
        var psi = new ProcessStartInfo("dotnet", ["test", Path.Combine(root, "tests", "PortPublisher.Service.Tests"), "-c", "Release", "--filter", Filter, "--logger", "console;verbosity=normal"])
        {
            UseShellExecute = false,
        };
        psi.Environment["PORTPUBLISHER_SOAK_CYCLES"] = cycles.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PORTPUBLISHER_SOAK_HANG_ROUNDS"] = hangRounds.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PORTPUBLISHER_SOAK_KILLS"] = kills.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PORTPUBLISHER_SOAK_RANGE_CYCLES"] = rangeCycles.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PORTPUBLISHER_SOAK_TRANSFER_MB"] = transferMb.ToString(CultureInfo.InvariantCulture);
        psi.Environment["PORTPUBLISHER_SOAK_REPORT"] = report;

        var sw = Stopwatch.StartNew();
        using Process p = Process.Start(psi)!;

        // Generous: ~1 s per churn cycle, ~3 s per hang round, ~10 s per range cycle and per kill, plus builds.
        var limit = TimeSpan.FromSeconds(600 + (cycles * 2) + (hangRounds * 6) + (rangeCycles * 20) + (kills * 20));
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            Console.Error.WriteLine($"soak: the test run did not finish within {limit}; killed");
            return 1;
        }

        Console.WriteLine();
        Console.WriteLine($"Soak ({cycles} churn cycles with a {transferMb} MB transfer, {hangRounds} hang rounds, {rangeCycles} range cycles, {kills} kills), {sw.Elapsed.TotalMinutes:F1} min, exit {p.ExitCode}:");
        Console.WriteLine();
        Console.WriteLine("| suite | run | result |");
        Console.WriteLine("| --- | --- | --- |");
        Console.Write(File.ReadAllText(report));
        File.Delete(report);
        return p.ExitCode;
    }

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("PortPublisher.sln not found above the bench binaries");
    }
}
