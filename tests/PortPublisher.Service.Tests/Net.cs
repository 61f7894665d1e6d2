using System.Diagnostics;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>Skips without root; waits for conditions, each under a deadline that is the failure.</summary>
internal static class Net
{
    public static void RequireRoot()
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("end-to-end tests need root to create network namespaces and run portpublisherd in them; CI runs as root");
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails the test once <paramref name="timeoutMs"/> have passed.</summary>
    public static Task<TimeSpan> Eventually(Func<Task<bool>> condition, int timeoutMs = 5000) =>
        Eventually(condition, timeoutMs, "condition");

    /// <inheritdoc cref="Eventually(Func{Task{bool}}, int)"/>
    public static Task<TimeSpan> Eventually(Func<Task<bool>> condition, int timeoutMs, string what) =>
        Eventually(condition, timeoutMs, () => what);

    /// <summary>As above, with the failure message made when it fails (it can then show the last values seen).</summary>
    public static async Task<TimeSpan> Eventually(Func<Task<bool>> condition, int timeoutMs, Func<string> what)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs)
            {
                Assert.Fail($"{what()} not met within {timeoutMs} ms");
            }

            await Task.Delay(25);
        }

        return sw.Elapsed;
    }

    /// <summary>A synchronous condition, polled as <see cref="Eventually(Func{Task{bool}}, int, string)"/> does.</summary>
    public static Task<TimeSpan> Eventually(Func<bool> condition, int timeoutMs, string what) =>
        Eventually(() => Task.FromResult(condition()), timeoutMs, () => what);

    /// <inheritdoc cref="Eventually(Func{Task{bool}}, int, Func{string})"/>
    public static Task<TimeSpan> Eventually(Func<bool> condition, int timeoutMs, Func<string> what) =>
        Eventually(() => Task.FromResult(condition()), timeoutMs, what);
}
