using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Publish/unpublish churn of NAT'ed, proxied and mixed publications while a checksummed transfer crosses a NAT'ed
/// port and requests cross a proxied one. Nothing may be lost (the transfer's SHA-256), no CLI call may fail, and the
/// daemon's descriptors return to where they were after a warm-up and its memory stops growing.
/// </summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class ChurnSoakTests
{
    private const int MinWarmUpCycles = 30;
    private const int MaxWarmUpCycles = 60;
    private static readonly TimeSpan s_cliDeadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task PublishUnpublishChurn_WhileTrafficFlows_LosesNoByteFailsNoCallAndLeaksNothing()
    {
        int cycles = Soak.Count("CYCLES", 100);
        int megabytes = Soak.Count("TRANSFER_MB", 200);
        await using Lab lab = await Lab.StartAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60 + ((MaxWarmUpCycles + cycles) * 3)));
        using var permits = new SemaphoreSlim(0);
        var sent = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using Peer source = Traffic.Source(lab.ContainerNs, ContainerV4, 9000, megabytes, ct => permits.WaitAsync(ct), sent, deadline.Token);
        using Peer http = Traffic.Http(lab.ContainerNs, ContainerV4, 80);
        using var sockets = new ClientSockets(lab.ClientNs);
        Cli(lab, "publish", "transfer", "--netns", lab.Container, "--mode", "nat", "-p", "0.0.0.0:19000:9000");
        Cli(lab, "publish", "steady", "--netns", lab.Container, "--mode", "proxy", "-p", "19100:80");
        var steadyEp = new IPEndPoint(IPAddress.Parse(HostV4), 19100);

        // Warm-up: every kind of cycle under the same proxied traffic, at least 30 cycles and then until VmRSS grows by
        // less than 1 % per 10 cycles; then the quiet state the end is compared with.
        //
        // Memory, measured (Debug, 2 cores): VmRSS rises ~15 % over the first ~40 cycles and levels off only after
        // ~80-100 (RssShmem, where the runtime keeps jitted code under W^X, and RssAnon from GC and malloc budgets); on a
        // loaded CI machine it was still rising 7.7 % and then 10.8 % over a 100-cycle churn's second half, at a rate a
        // 300-cycle run shows falling to 1.4 %. So VmRSS cannot tell a leak from warm-up in a CI-sized run. What is
        // asserted: fds back within 5 %; VmRSS at most 25 % over the baseline (a native leak's gross bound); and the
        // managed bytes a full GC keeps (LiveHeap) at most LiveBand over the baseline's, which the runtime's warm-up
        // does not move: seen +195 KB after 100 cycles and +167 KB after 300, where a leaked publication of a few KiB
        // per cycle would add that much again every 100 cycles.
        int pid = lab.ServicePid;
        long requests = 0;
        int warm = 0;
        long warmHigh = 0;
        using (var warming = new CancellationTokenSource())
        {
            Task warmTraffic = SteadyTraffic(sockets, steadyEp, n => Interlocked.Add(ref requests, n), warming.Token, deadline.Token);
            long previous = Proc.RssKib(pid);
            while (warm < MaxWarmUpCycles)
            {
                warmHigh = 0;
                for (int j = 0; j < 10; j++, warm++)
                {
                    await Cycle(lab, sockets, warm, probe: j < 3, deadline.Token);
                    warmHigh = Math.Max(warmHigh, Proc.RssKib(pid));
                }

                long now = Proc.RssKib(pid);
                if (warm >= MinWarmUpCycles && now - previous <= previous / 100)
                {
                    break;
                }

                previous = now;
            }

            await warming.CancelAsync();
            await warmTraffic.WaitAsync(deadline.Token);
        }

        // The baseline is the warm-up's last ten cycles' high-water mark, or the quiet reading if higher: between two
        // readings the GC may or may not have touched the rest of its gen0 budget.
        (int fdBase, Memory quiet) = await Quiet(lab, pid);
        long rssBase = Math.Max(quiet.Rss, warmHigh);
        long liveBase = await LiveHeap.BytesAsync(pid, deadline.Token);

        // The transfer (container → client through the NAT'ed port) is paced by the churn: a share of its chunks per cycle.
        using Socket client = lab.ClientNs.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(HostV4), 19000), deadline.Token);
        Task<(long Bytes, string Sha256)> received = Traffic.Receive(client, deadline.Token);
        using var churning = new CancellationTokenSource();
        Task steady = SteadyTraffic(sockets, steadyEp, n => Interlocked.Add(ref requests, n), churning.Token, deadline.Token);

        var sw = Stopwatch.StartNew();
        var trail = new List<string>();
        long rssHalf = 0;
        for (int i = 1; i <= cycles; i++)
        {
            if (i == (cycles / 2) + 1)
            {
                rssHalf = Proc.RssKib(pid);
            }

            if (i % Math.Max(1, cycles / 10) == 0)
            {
                trail.Add($"{Memory.Of(pid)}, {Metric(lab, "dotnet_total_memory_bytes") / (1 << 20):F0} managed, {Metric(lab, "process_num_threads"):F0} threads"); // shows whether growth levels off or climbs
            }

            await Cycle(lab, sockets, warm + i, probe: i % 10 == 0, deadline.Token);
            int share = ((i * megabytes) / cycles) - (((i - 1) * megabytes) / cycles);
            if (share > 0)
            {
                permits.Release(share); // more cycles than megabytes: some cycles send nothing
            }
            Assert.False(steady.IsFaulted, $"proxied traffic failed during cycle {i}: {steady.Exception?.InnerException}");
        }

        TimeSpan churnTime = sw.Elapsed;
        long rssChurnEnd = Proc.RssKib(pid);
        await churning.CancelAsync();
        await steady.WaitAsync(deadline.Token);
        (long bytes, string sha) = await received.WaitAsync(deadline.Token);
        Assert.Equal((long)megabytes << 20, bytes);
        Assert.Equal(await sent.Task.WaitAsync(deadline.Token), sha);

        // Proxied connections close asynchronously and the GC runs when it runs: wait (with a deadline) for the
        // daemon to be back at its baseline rather than sleeping and hoping.
        int fds = 0;
        Memory end = quiet;
        bool Settled()
        {
            fds = Proc.FdCount(pid);
            end = Memory.Of(pid);
            // The steady proxied publication keeps a stock of ready sockets that is refilled to 32 once it falls below
            // 16: between two quiet moments it can differ by up to 16 with nothing leaked (seen: 259 → 273).
            // VmRSS: 25 %. On a loaded machine the runtime's tier-1 recompilation lags the warm-up and lands during the
            // churn (JIT'd code shows as shmem, its double mapping, and GC regions as anon): seen 18 % with 9 MiB
            // managed at the end, levelling off. The live heap and metric series checks below are the leak tests.
            return Math.Abs(fds - fdBase) <= (fdBase * 0.05) + StockBand && end.Rss <= rssBase * 1.25;
        }

        await Net.Eventually(Settled, 30_000, () =>
            $"after {warm} warm-up cycles, fds ({fdBase} at baseline) back within 5 % (+{StockBand}, the socket stock's refill band) and VmRSS ({rssBase} KiB) within 25 % (last: {fds} fds, {end}; at baseline {quiet}; "
            + $"every tenth of the churn: {string.Join("; ", trail)}; at the end {Metric(lab, "dotnet_total_memory_bytes") / (1 << 20):F0} MiB managed, {Metric(lab, "process_num_threads"):F0} threads, gen2 GCs {Metric(lab, "dotnet_collection_count_total", "generation=\"2\""):F0})");
        long liveEnd = await LiveHeap.BytesAsync(pid, deadline.Token);
        Assert.True(liveEnd - liveBase <= LiveBand, $"a full GC kept {liveEnd} bytes after {cycles} cycles against {liveBase} at the baseline (over +{LiveBand})");
        // The per-publication state a leak would keep: every churned publication's metric series must be gone.
        string[] leftSeries = [.. lab.InHost($"curl -sf http://127.0.0.1:{lab.MetricsPort}/metrics").Split('\n').Where(l => l.Contains("publication=\"churn", StringComparison.Ordinal))];
        Assert.True(leftSeries.Length == 0, $"metric series of unpublished publications remain: {string.Join("; ", leftSeries.Take(5))}");

        Soak.Report(string.Create(CultureInfo.InvariantCulture,
            $"| publish/unpublish churn | {cycles} cycles in {churnTime.TotalSeconds:F0} s after {warm} warm-up cycles, 0 CLI errors, {megabytes} MB NAT'ed transfer intact (sha256), {requests} proxied requests | fds {fdBase} → {fds}; VmRSS {rssBase} → {end.Rss} KiB ({(end.Rss - rssBase) * 100.0 / rssBase:F1} %), {rssHalf} → {rssChurnEnd} KiB over the churn's second half; live managed {liveBase} → {liveEnd} B; quiet at baseline {quiet}, at the end {end} |"));
    }

    /// <summary>Resident memory by kind, KiB (/proc/PID/status).</summary>
    private readonly record struct Memory(long Rss, long Anon, long File, long Shmem)
    {
        public static Memory Of(int pid) => new(Proc.RssKib(pid), Proc.StatusKib(pid, "RssAnon"), Proc.StatusKib(pid, "RssFile"), Proc.StatusKib(pid, "RssShmem"));

        public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"VmRSS {Rss} KiB = anon {Anon} + file {File} + shmem {Shmem}");
    }

    /// <summary>Requests through the proxied publication until <paramref name="stop"/>: one with close, five on one keep-alive connection.</summary>
    private static Task SteadyTraffic(ClientSockets sockets, IPEndPoint ep, Action<long> done, CancellationToken stop, CancellationToken deadline) => Task.Run(async () =>
    {
        while (!stop.IsCancellationRequested)
        {
            await Traffic.HttpOnce(sockets, ep, deadline);
            await Traffic.HttpKeepAlive(sockets, ep, 5, deadline);
            done(6);
        }
    });

    private const int StockBand = 16; // NamespaceSocketFactory.StockSize / 2

    private const long LiveBand = 512 << 10;

    /// <summary>
    /// The daemon once no proxied connection is open and its descriptor count has held still for 200 ms (a proxied
    /// publication restocks its ready sockets in the background): (fds, VmRSS KiB).
    /// </summary>
    private static async Task<(int Fds, Memory Memory)> Quiet(Lab lab, int pid)
    {
        int last = -1, same = 0;
        await Net.Eventually(() =>
        {
            int now = Proc.FdCount(pid);
            same = now == last ? same + 1 : 0;
            last = now;
            return same >= 8 && ActiveProxied(lab) == 0;
        }, 30_000, () => $"no proxied connection open and a steady fd count (last {last})");
        return (last, Memory.Of(pid));
    }

    private static double ActiveProxied(Lab lab) => Metric(lab, "portpublisher_proxy_connections_active");

    /// <summary>The sum of the samples of metric <paramref name="name"/> (those whose labels contain <paramref name="labels"/>), scraped from the daemon.</summary>
    private static double Metric(Lab lab, string name, string labels = "") =>
        lab.InHost($"curl -sf http://127.0.0.1:{lab.MetricsPort}/metrics").Split('\n')
            .Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Length > name.Length && l[name.Length] is ' ' or '{' && l.Contains(labels, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    /// <summary>
    /// Publishes and unpublishes one publication: NAT'ed (TCP and a dynamic UDP port), proxied, or auto (a NAT'ed
    /// 127.0.0.1 binding, a NAT'ed 0.0.0.0 one and its proxied [::] twin); with <paramref name="probe"/> a request
    /// crosses it first.
    /// </summary>
    private static async Task Cycle(Lab lab, ClientSockets sockets, int i, bool probe, CancellationToken ct)
    {
        string name = $"churn{i}";
        int port = 20000 + (i % 500);
        string[] args = (i % 3) switch
        {
            0 => ["--mode", "nat", "-p", $"0.0.0.0:{port}:80", "-p", "0.0.0.0::53/udp"], // explicit IPv4: --mode nat cannot carry [::] to this IPv4-only container
            1 => ["--mode", "proxy", "-p", $"{port}:80"],
            _ => ["-p", $"{port}:80", "-p", "127.0.0.1::80"],
        };
        Cli(lab, ["publish", name, "--netns", lab.Container, .. args]);
        if (probe)
        {
            await Traffic.HttpOnce(sockets, new IPEndPoint(IPAddress.Parse(HostV4), port), ct);
        }

        Cli(lab, "unpublish", name);
    }

    private static void Cli(Lab lab, params string[] args)
    {
        (int code, _, string err) = lab.Cli(s_cliDeadline, args);
        Assert.True(code == 0, $"`portpublisher {string.Join(' ', args)}` exited {code}: {err}");
    }
}
