using System.Globalization;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Counts of the bounded suites: CI runs the defaults; <c>bench soak</c> runs the same tests with larger counts through
/// PORTPUBLISHER_SOAK_* variables and collects the lines each test reports into PORTPUBLISHER_SOAK_REPORT.
/// </summary>
internal static class Soak
{
    public const string ReportVariable = "PORTPUBLISHER_SOAK_REPORT";

    /// <summary>The count named <paramref name="variable"/> (PORTPUBLISHER_SOAK_ + it), else <paramref name="ci"/>.</summary>
    public static int Count(string variable, int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable($"PORTPUBLISHER_SOAK_{variable}"), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : ci;

    /// <summary>A line for the test's output and, under the bench, its report.</summary>
    public static void Report(string line)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(line);
        string? file = Environment.GetEnvironmentVariable(ReportVariable);
        if (!string.IsNullOrEmpty(file))
        {
            File.AppendAllText(file, line + "\n");
        }
    }
}
