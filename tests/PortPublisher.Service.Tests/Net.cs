using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PortPublisher.Netlink;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>Skips without root; waits for conditions.</summary>
internal static class Net
{
    public static void RequireRoot()
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("end-to-end tests need root to create network namespaces and run portpublisherd in them; CI runs as root");
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took.</summary>
    public static async Task<TimeSpan> Eventually(Func<Task<bool>> condition, int timeoutMs = 5000)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs)
            {
                Assert.Fail($"condition not met within {timeoutMs} ms");
            }

            await Task.Delay(25);
        }

        return sw.Elapsed;
    }
}
