using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>
/// A firewall that keeps reloading: <c>nft flush ruleset</c> in the host namespace ten times a second for five
/// seconds while connections cross a NAT'ed port. After the last flush the tables are back within a second, and the
/// daemon is quiet afterwards (a repair loop that chases its own events would spin). With the tables owned by the
/// service (the default) the flushes never reach them, so no connection is refused at all.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class FlushStormTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task NftFlushRulesetTenTimesASecond_TablesRepairedWithinASecondOfTheLastAndNoSpin(bool protect)
    {
        await using Lab lab = await Lab.StartAsync("--protect-tables", protect ? "true" : "false");
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80, backlog: 256);
        Assert.Equal(0, lab.Cli(TimeSpan.FromSeconds(15), "publish", "storm", "--netns", lab.Container, "-p", "8080:80", "-p", "127.0.0.1:8081:80").Code);
        HashSet<string> expected = Agreement.ExpectedElements(Agreement.Bindings(lab));
        string tables = Normalized(lab.InHost("nft -s list ruleset"));
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 8080));

        using var stop = new CancellationTokenSource();
        long answered = 0, refused = 0;
        Task traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Peer.AskTcp(lab.ClientNs, HostV4, 8080, timeoutMs: 500);
                    answered++;
                }
                catch (SocketException)
                {
                    refused++; // between a flush and its repair the port has no DNAT
                }
            }
        });

        using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(100)))
        {
            for (int i = 0; i < 50; i++)
            {
                lab.InHost("nft flush ruleset");
                await tick.WaitForNextTickAsync();
            }
        }

        lab.InHost("nft flush ruleset");
        var sinceLast = Stopwatch.StartNew();
        await Net.Eventually(() => Agreement.Elements(lab).SetEquals(expected) && Normalized(lab.InHost("nft -s list ruleset")) == tables, 1000,
            "tables back as they were after the last flush");
        TimeSpan repaired = sinceLast.Elapsed;
        await stop.CancelAsync();
        await traffic.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(answered > 0, "no connection got through during the storm");
        if (protect)
        {
            // Owned tables are never flushed: not one connection meets a port without its DNAT.
            Assert.Equal(0, refused);
            Assert.DoesNotContain("repaired in", lab.Log, StringComparison.Ordinal);
        }

        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 8080));

        // Two quiet seconds: a measured window, not a wait for an event. Idle, the daemon uses next to no CPU.
        int pid = lab.ServicePid;
        double cpu0 = Proc.CpuSeconds(pid);
        await Task.Delay(2000);
        double cpu = Proc.CpuSeconds(pid) - cpu0;
        Assert.True(cpu < 0.5, $"the daemon used {cpu:F2} s of CPU in 2 quiet seconds after the storm");
        Soak.Report(string.Create(CultureInfo.InvariantCulture,
            $"| nft flush storm, {(protect ? "owned tables" : "--protect-tables false")} | 51 flushes in 5 s; {answered} connections answered, {refused} refused between flush and repair | repaired {repaired.TotalMilliseconds:F0} ms after the last (bound 1 s); {cpu:F2} s CPU in the 2 quiet seconds after |"));
    }

    /// <summary>The ruleset's lines, sorted: a rebuilt table may list its elements in another order.</summary>
    private static string Normalized(string ruleset) => string.Join('\n', ruleset.Split('\n').Select(l => l.Trim()).Order(StringComparer.Ordinal));
}
