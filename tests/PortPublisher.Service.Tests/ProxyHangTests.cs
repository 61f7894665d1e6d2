using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Issue 9's hang, bounded: two proxied publications carry the load the issue describes (bulk, 4 streams, 32 concurrent
/// short connections, one at a time, keep-alive), then the first is unpublished and published again. Every CLI call has
/// a deadline past which the CLI is killed and the test fails: a lost wakeup in the proxy's event loop shows as a
/// failed round, never as a hung run.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class ProxyHangTests
{
    private static readonly TimeSpan s_cliDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan s_loadDeadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task UnpublishAndRepublishAfterProxiedLoad_AnswerWithinTheDeadlineEveryRound()
    {
        int rounds = Soak.Count("HANG_ROUNDS", 20);
        int shortMs = Soak.Count("HANG_SHORT_MS", 1000);
        await using Lab lab = await Lab.StartAsync();
        using Peer sink = Traffic.CountingSink(lab.ContainerNs, ContainerV4, 5201);
        using Peer http = Traffic.Http(lab.ContainerNs, ContainerV4, 80);
        using var sockets = new ClientSockets(lab.ClientNs);
        var bulk = new IPEndPoint(IPAddress.Parse(HostV4), 15201);
        var web = new IPEndPoint(IPAddress.Parse(HostV4), 18080);
        Publish(lab, "bulk", "0.0.0.0:15201:5201");
        Publish(lab, "web", "0.0.0.0:18080:80");

        var sw = Stopwatch.StartNew();
        long connections = 0;
        for (int round = 1; round <= rounds; round++)
        {
            using var cts = new CancellationTokenSource(s_loadDeadline);
            try
            {
                connections += await Load(sockets, bulk, web, shortMs, cts.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"round {round}: the load did not get through the proxy within {s_loadDeadline.TotalSeconds} s\n{lab.Log}");
            }

            (int code, _, string err) = lab.Cli(s_cliDeadline, "unpublish", "bulk");
            Assert.True(code == 0, $"round {round}: unpublish exited {code}: {err}");

            // The listener is closed by the time unpublish answers: the port binds again without SO_REUSEADDR.
            using (Socket again = lab.HostNs.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
            {
                again.Bind(new IPEndPoint(IPAddress.Any, bulk.Port));
            }

            Publish(lab, "bulk", "0.0.0.0:15201:5201");
        }

        Soak.Report(string.Create(CultureInfo.InvariantCulture, $"| proxy hang repro | {rounds} rounds ({shortMs} ms of short connections each), {connections} client connections, 0 hangs | {sw.Elapsed.TotalSeconds:F0} s |"));
    }

    /// <summary>
    /// The other trigger: a 5,000-port proxied range posts a start (publish) and a stop (unpublish) per binding
    /// and loop from the writer thread, a burst that hits the loop while it is handling its own wakeup.
    /// </summary>
    [Fact]
    public async Task ProxiedRangeOf5000Ports_PublishAndUnpublishAnswerWithinTheDeadlineEveryCycle()
    {
        int cycles = Soak.Count("RANGE_CYCLES", 2);
        await using Lab lab = await Lab.StartAsync();
        var sw = Stopwatch.StartNew();
        for (int cycle = 1; cycle <= cycles; cycle++)
        {
            (int code, _, string err) = lab.Cli(s_cliDeadline, "publish", "range", "--netns", lab.Container, "--mode", "proxy", "-p", "30000-34999:30000-34999");
            Assert.True(code == 0, $"cycle {cycle}: publish exited {code}: {err}");
            Assert.Equal(10_000, Regex.Count(lab.Cli("ls", "--json").Stdout, "\"carrier\":\"proxy\"")); // 0.0.0.0 and [::] for each port
            (code, _, err) = lab.Cli(s_cliDeadline, "unpublish", "range");
            Assert.True(code == 0, $"cycle {cycle}: unpublish exited {code}: {err}");
        }

        Soak.Report(string.Create(CultureInfo.InvariantCulture, $"| proxied 5,000-port range | {cycles} publish/unpublish cycles, 0 hangs | {sw.Elapsed.TotalSeconds:F0} s |"));
    }

    private static void Publish(Lab lab, string name, string spec)
    {
        (int code, _, string err) = lab.Cli(s_cliDeadline, "publish", name, "--netns", lab.Container, "--mode", "proxy", "-p", spec);
        Assert.True(code == 0, $"publish {name} exited {code}: {err}");
    }

    /// <summary>One round of the load, scaled to seconds; the number of client connections it made.</summary>
    private static async Task<long> Load(ClientSockets sockets, IPEndPoint bulk, IPEndPoint web, int shortMs, CancellationToken ct)
    {
        const long Mib = 1 << 20;
        Assert.Equal(32 * Mib, await Traffic.Bulk(sockets, bulk, 32 * Mib, ct));
        long[] four = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Traffic.Bulk(sockets, bulk, 16 * Mib, ct)));
        Assert.All(four, n => Assert.Equal(16 * Mib, n));

        // 32 concurrent connect→request→close loops for a second: more new connections than the namespace's stock of
        // ready sockets, so dials also complete from the namespace thread, which posts them to the loops.
        long short32 = 0;
        var window = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 32).Select(async _ =>
        {
            while (window.ElapsedMilliseconds < shortMs)
            {
                await Traffic.HttpOnce(sockets, web, ct);
                Interlocked.Increment(ref short32);
            }
        }));

        for (int i = 0; i < 100; i++)
        {
            await Traffic.HttpOnce(sockets, web, ct);
        }

        await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Traffic.HttpKeepAlive(sockets, web, 50, ct)));
        return 5 + short32 + 100 + 32;
    }
}
