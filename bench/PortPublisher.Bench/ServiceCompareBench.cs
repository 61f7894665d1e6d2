using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PortPublisher.Netlink;
using PortPublisher.Proxy;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Issue 14's table, measured through the shipped service as users run it: the real <c>portpublisherd</c> (Release),
/// publishing through the real CLI (<c>publish --mode proxy|nat -p 0.0.0.0:P:Q</c>), beside direct routing, a
/// one-rule nft map, docker-proxy 20.10 and haproxy 2.6 with splice forced. Each peer has a topology of its own
/// (client → host → container, <see cref="BenchTopology"/>); ours proxy and ours NAT share one, served by one service.
/// One warm-up pass, then interleaved rounds (the peer order rotates each round); medians; ratios against the goals.
/// </summary>
internal static class ServiceCompareBench
{
    private const string Usage = "service-compare [--docker-proxy PATH] [--rounds N] [--seconds N] [--only direct,nft,docker,haproxy,proxy,nat] [--hold N] [--service PATH] [--cli COMMAND] [--strace] [--perf DIR] [--deadline MINUTES]";

    /// <summary>The tests, in the table's order: key, row label, whether more is better, and the number format.</summary>
    private static readonly (string Key, string Label, bool HigherIsBetter, string Format)[] Tests =
    [
        ("tcp1", "iperf3 1 stream, Gbit/s", true, "F2"),
        ("tcp4", "iperf3 4 streams, Gbit/s", true, "F2"),
        ("short32", "32 concurrent short conns/s (connect, GET, close)", true, "N0"),
        ("serial", "1 connection at a time, conns/s", true, "N0"),
        ("keepalive", "wrk keep-alive, 32 conns, req/s", true, "N0"),
        ("dns", "DNS-style UDP request/response/s (dnsperf, 16 sockets, 64 in flight)", true, "N0"),
        ("udpbulk", $"UDP bulk datagrams/s delivered (iperf3 -u -b 0, {LoadTools.UdpBulkSize} B)", true, "N0"),
        ("udpdown", $"UDP bulk datagrams/s back to the client (iperf3 -u -b 0 -R, {LoadTools.UdpBulkSize} B)", true, "N0"),
        ("proxycpu", "proxy CPU per short conn, µs", false, "F1"),
        ("dnscpu", "proxy CPU per DNS request/response, µs", false, "F1"),
        ("bulkcpu", "proxy CPU per bulk datagram delivered, µs", false, "F2"),
        ("downcpu", "proxy CPU per datagram back to the client, µs", false, "F2"),
        ("kernelcpu", "kernel CPU per short conn, whole machine, µs", false, "F1"),
        ("tcp1cpu", "proxy CPU per GB, 1 stream, s", false, "F3"),
        ("tcp1busy", "CPU per GB, 1 stream, whole machine, s", false, "F3"),
        ("dnsbusy", "CPU per DNS request/response, whole machine, µs", false, "F1"),
        ("udpbusy", "CPU per bulk datagram delivered, whole machine, µs", false, "F2"),
        ("switches", "proxy voluntary context switches per short conn", false, "F2"),
        ("idlemem", "proxy RSS per idle held connection, B", false, "N0"),
    ];

    /// <summary>Issue 14's goals: ours proxy against docker-proxy (a ratio of medians; for lower-is-better rows a ceiling).</summary>
    private static readonly Dictionary<string, double> ProxyGoals = new()
    {
        ["tcp1"] = 1.25,
        ["tcp4"] = 1.1,
        ["short32"] = 1.3,
        ["keepalive"] = 1.1,
        ["kernelcpu"] = 1.0,
        ["dns"] = 1.5,
        ["udpbulk"] = 1.5,
        ["udpdown"] = 1.5,
    };

    /// <summary>Rows that only proxies have, so no NAT ratio.</summary>
    private static readonly string[] ProxyOnly = ["proxycpu", "dnscpu", "bulkcpu", "downcpu", "tcp1cpu", "switches", "idlemem"];

    /// <summary>
    /// The rates whose ceiling <see cref="Print"/> works out: the rate row, the proxy's CPU per operation and the whole
    /// machine's, and what turns rate × CPU per operation into CPUs kept busy (Gbit/s × s/GB; per second × µs).
    /// </summary>
    private static readonly (string Rate, string ProxyCpu, string MachineCpu, double ToCpus)[] Ceilings =
    [
        ("tcp1", "tcp1cpu", "tcp1busy", 1 / 8.0),
        ("dns", "dnscpu", "dnsbusy", 1e-6),
        ("udpbulk", "bulkcpu", "udpbusy", 1e-6),
    ];

    /// <summary>Ours NAT against the one-rule nft map: at least 0.97× on every rate (at most 1/0.97× the kernel CPU).</summary>
    private const double NatGoal = 0.97;

    /// <summary>Idle memory goal: at most 2 KiB per held proxied connection, in the service process.</summary>
    private const double IdleGoalBytes = 2048;

    public static async Task<int> Run(string[] args)
    {
        Dictionary<string, string?> o;
        try
        {
            o = ParseOptions(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"service-compare: {e.Message}\nusage: {Usage}");
            return 2;
        }

        int rounds = Int(o, "rounds", 3), seconds = Int(o, "seconds", 4), hold = Int(o, "hold", 2000);
        var deadline = TimeSpan.FromMinutes(Int(o, "deadline", 60));
        string[] only = (o.GetValueOrDefault("only") ?? "direct,nft,docker,haproxy,proxy,nat").Split(',', StringSplitOptions.RemoveEmptyEntries);
        string root = FindRoot();
        string dockerProxy = o.GetValueOrDefault("docker-proxy") ?? "/tmp/dockerio/usr/sbin/docker-proxy";
        string service = o.GetValueOrDefault("service") ?? Path.Combine(root, "src", "PortPublisher.Service", "bin", "Release", "net10.0", "portpublisherd");
        string cli = o.GetValueOrDefault("cli") ?? DefaultCli(root);
        string? perfDir = o.GetValueOrDefault("perf");
        bool strace = o.ContainsKey("strace");

        List<string> missing = [.. new[] { "iperf3", "wrk", "nginx", "dnsmasq", "dnsperf", "ss" }
            .Concat(only.Contains("haproxy") ? ["haproxy"] : [])
            .Concat(only.Contains("nft") ? ["nft"] : [])
            .Concat(strace ? ["strace"] : [])
            .Concat(perfDir is not null ? ["perf"] : [])
            .Where(tool => !OnPath(tool))];
        if (only.Contains("docker") && !File.Exists(dockerProxy))
        {
            missing.Add($"docker-proxy at {dockerProxy} (--docker-proxy PATH)");
        }

        if ((only.Contains("proxy") || only.Contains("nat")) && !File.Exists(service))
        {
            missing.Add($"portpublisherd at {service} (dotnet build -c Release, or --service PATH)");
        }

        if (missing.Count > 0)
        {
            Console.Error.WriteLine($"service-compare: missing {string.Join(", ", missing)}\n(apt-get install -y haproxy iperf3 wrk nginx-light dnsmasq-base dnsperf; docker-proxy: apt-get download docker.io && dpkg -x docker.io_*.deb /tmp/dockerio)");
            return 2;
        }

        string id = $"ppsc{Environment.ProcessId % 10000}";
        var topologies = new List<BenchTopology>();
        var peers = new List<ServicePeer>();
        ServiceUnderTest? ours = null;
        var clock = Stopwatch.StartNew();
        try
        {
            BenchTopology New(string suffix)
            {
                BenchTopology t = BenchTopology.Create($"{id}{suffix}");
                topologies.Add(t);
                return t;
            }

            if (only.Contains("direct"))
            {
                BenchTopology t = New("d");
                peers.Add(new ServicePeer("direct", "direct", t, BenchTopology.ContainerAddress, BenchTopology.IperfPort, BenchTopology.HttpPort, BenchTopology.DnsPort, BenchTopology.IperfPort, () => []));
            }

            if (only.Contains("nft"))
            {
                BenchTopology t = New("m");
                NftMap(t);
                peers.Add(new ServicePeer("nft", "nft map (1 rule)", t, BenchTopology.HostAddress, 8001, 8002, 8004, 8001, () => []));
            }

            if (only.Contains("docker"))
            {
                BenchTopology t = New("k");
                var processes = new List<Process>();
                foreach ((string proto, int port, int target) in new[] { ("tcp", 8001, 5201), ("udp", 8001, 5201), ("tcp", 8002, 7000), ("udp", 8004, 53) })
                {
                    // fd 3: the status pipe docker-proxy writes "0" to and closes; dockerd is never involved.
                    processes.Add(t.Start(t.Host, $"{dockerProxy} -proto {proto} -host-ip 0.0.0.0 -host-port {port} -container-ip {BenchTopology.ContainerAddress} -container-port {target} 3>/dev/null"));
                }

                BenchTopology.WaitForTcp(t.Host, "0.0.0.0", 8002);
                peers.Add(new ServicePeer("docker", "docker-proxy 20.10", t, BenchTopology.HostAddress, 8001, 8002, 8004, 8001, () => [.. processes.Select(p => p.Id)]));
            }

            if (only.Contains("haproxy"))
            {
                BenchTopology t = New("a");
                Process h = t.Start(t.Host, $"haproxy -db -f {HaproxyConfig(t)}");
                BenchTopology.WaitForTcp(t.Host, "0.0.0.0", 8002);
                peers.Add(new ServicePeer("haproxy", "haproxy 2.6 (splice)", t, BenchTopology.HostAddress, 8001, 8002, null, null, () => [h.Id]));
            }

            if (only.Contains("proxy") || only.Contains("nat"))
            {
                BenchTopology t = New("o");
                ours = ServiceUnderTest.Start(t.Host, service, cli, perfDir is not null);
                ServiceUnderTest s = ours;
                if (only.Contains("proxy"))
                {
                    Console.WriteLine(ours.Cli($"publish ppscproxy --netns {t.Container} --mode proxy -p 0.0.0.0:8101:5201 -p 0.0.0.0:8101:5201/udp -p 0.0.0.0:8102:7000 -p 0.0.0.0:8104:53/udp").TrimEnd());
                    peers.Add(new ServicePeer("proxy", "ours proxy", t, BenchTopology.HostAddress, 8101, 8102, 8104, 8101, () => [s.Pid]));
                }

                if (only.Contains("nat"))
                {
                    Console.WriteLine(ours.Cli($"publish ppscnat --netns {t.Container} --mode nat -p 0.0.0.0:8201:5201 -p 0.0.0.0:8201:5201/udp -p 0.0.0.0:8202:7000 -p 0.0.0.0:8204:53/udp").TrimEnd());
                    peers.Add(new ServicePeer("nat", "ours NAT", t, BenchTopology.HostAddress, 8201, 8202, 8204, 8201, () => []));
                }

                Console.WriteLine(ours.Cli("ls").TrimEnd());
            }

            foreach (ServicePeer p in peers)
            {
                string code = Sh($"ip netns exec {p.Topology.Client} curl -s -m 5 -o /dev/null -w '%{{http_code}}' {p.Url}", TimeSpan.FromSeconds(15));
                if (code != "200")
                {
                    throw new InvalidOperationException($"{p.Name}: GET {p.Url} answered {code}, not 200");
                }
            }

            Console.WriteLine($"# warm-up ({peers.Count} peers)");
            foreach (ServicePeer p in peers)
            {
                _ = LoadTools.Iperf(p.Topology, p.Target, p.IperfPort, 1, 2);
                _ = LoadTools.Wrk(p.Topology.Client, p.Url, 2, 32, 2, close: true);
                _ = LoadTools.Wrk(p.Topology.Client, p.Url, 2, 32, 2, close: false);
                if (p.DnsPort is int dns)
                {
                    _ = LoadTools.Dnsperf(p.Topology, p.Target, dns, 2);
                }

                if (p.UdpIperfPort is int udp)
                {
                    _ = LoadTools.IperfUdp(p.Topology, p.Target, udp, 2);
                }
            }

            var results = Tests.ToDictionary(t => t.Key, _ => peers.ToDictionary(p => p, _ => new List<double>()));
            int done = 0;
            for (int r = 0; r < rounds; r++)
            {
                if (clock.Elapsed > deadline)
                {
                    Console.WriteLine($"# deadline of {deadline.TotalMinutes:F0} min reached after {done} rounds: the medians below are of those");
                    break;
                }

                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# round {r + 1} of {rounds} ({clock.Elapsed.TotalMinutes:F1} min)"));
                foreach (ServicePeer p in peers.Skip(r % peers.Count).Concat(peers.Take(r % peers.Count)))
                {
                    MeasureRound(p, seconds, results);
                }

                done++;
            }

            var again = new List<string>();
            foreach (ServicePeer p in peers.Where(p => p.IsProxy))
            {
                (double first, double second) = await IdleMemory(p, hold);
                results["idlemem"][p].Add(first);
                again.Add(string.Create(CultureInfo.InvariantCulture, $"{p.Name} {second:N0} B"));
            }

            Print(peers, results, done, seconds, hold);
            if (again.Count > 0)
            {
                Console.WriteLine($"RSS per idle connection when the same number is held a second time: {string.Join(", ", again)}.");
            }

            if (strace)
            {
                Syscalls(peers.Where(p => p.IsProxy), seconds);
            }

            if (perfDir is not null)
            {
                Profiles(peers.Where(p => p.IsProxy), seconds, perfDir);
            }

            return 0;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"service-compare failed: {e.Message}");
            if (ours is not null)
            {
                Console.Error.WriteLine($"portpublisherd's last output:\n{ours.Log}");
            }

            return 1;
        }
        finally
        {
            ours?.Dispose();
            foreach (BenchTopology t in topologies)
            {
                t.Dispose();
            }
        }
    }

    private static void MeasureRound(ServicePeer p, int seconds, Dictionary<string, Dictionary<ServicePeer, List<double>>> results)
    {
        BenchTopology t = p.Topology;
        IReadOnlyList<int> pids = p.Pids;
        double streamCpu0 = pids.Sum(ProcessStats.CpuSeconds), streamBusy0 = SystemCpu.BusySeconds();
        (double bps, double bytes) = LoadTools.Iperf(t, p.Target, p.IperfPort, 1, seconds);
        double streamCpu1 = pids.Sum(ProcessStats.CpuSeconds), streamBusy1 = SystemCpu.BusySeconds();
        results["tcp1"][p].Add(bps / 1e9);
        results["tcp1busy"][p].Add((streamBusy1 - streamBusy0) * 1e9 / bytes); // iperf3's start and end included: a little high
        if (p.IsProxy)
        {
            results["tcp1cpu"][p].Add((streamCpu1 - streamCpu0) * 1e9 / bytes);
        }

        results["tcp4"][p].Add(LoadTools.Iperf(t, p.Target, p.IperfPort, 4, seconds).Bps / 1e9);

        double cpu0 = pids.Sum(ProcessStats.CpuSeconds), kernel0 = SystemCpu.KernelSeconds();
        long switches0 = pids.Sum(ProcessStats.VoluntarySwitches);
        (double rate, double requests) = LoadTools.Wrk(t.Client, p.Url, 2, 32, seconds, close: true);
        double cpu1 = pids.Sum(ProcessStats.CpuSeconds), kernel1 = SystemCpu.KernelSeconds();
        long switches1 = pids.Sum(ProcessStats.VoluntarySwitches);
        results["short32"][p].Add(rate);
        results["kernelcpu"][p].Add((kernel1 - kernel0) * 1e6 / requests);
        if (p.IsProxy)
        {
            results["proxycpu"][p].Add((cpu1 - cpu0) * 1e6 / requests);
            results["switches"][p].Add((switches1 - switches0) / requests);
        }

        results["serial"][p].Add(LoadTools.Wrk(t.Client, p.Url, 1, 1, seconds, close: true).Rate);
        results["keepalive"][p].Add(LoadTools.Wrk(t.Client, p.Url, 2, 32, seconds, close: false).Rate);
        if (p.DnsPort is int dns)
        {
            double c0 = pids.Sum(ProcessStats.CpuSeconds), b0 = SystemCpu.BusySeconds();
            (double qps, double queries) = LoadTools.Dnsperf(t, p.Target, dns, seconds);
            results["dns"][p].Add(qps);
            results["dnsbusy"][p].Add((SystemCpu.BusySeconds() - b0) * 1e6 / queries);
            if (p.IsProxy)
            {
                results["dnscpu"][p].Add((pids.Sum(ProcessStats.CpuSeconds) - c0) * 1e6 / queries);
            }
        }

        if (p.UdpIperfPort is int udp)
        {
            double c0 = pids.Sum(ProcessStats.CpuSeconds), b0 = SystemCpu.BusySeconds();
            (double delivered, double datagrams) = LoadTools.IperfUdp(t, p.Target, udp, seconds);
            results["udpbulk"][p].Add(delivered);
            results["udpbusy"][p].Add((SystemCpu.BusySeconds() - b0) * 1e6 / datagrams);
            if (p.IsProxy)
            {
                results["bulkcpu"][p].Add((pids.Sum(ProcessStats.CpuSeconds) - c0) * 1e6 / datagrams);
            }

            // The other way: a UDP download (the server in the container sends), the replies' path through a proxy.
            c0 = pids.Sum(ProcessStats.CpuSeconds);
            (double down, double downDatagrams) = LoadTools.IperfUdp(t, p.Target, udp, seconds, reverse: true);
            results["udpdown"][p].Add(down);
            if (p.IsProxy)
            {
                results["downcpu"][p].Add((pids.Sum(ProcessStats.CpuSeconds) - c0) * 1e6 / downDatagrams);
            }
        }
    }

    /// <summary>
    /// RSS growth of the proxy's processes per connection while <paramref name="count"/> idle connections are held
    /// through it (nginx in the container holds them, waiting for a request), in two passes: the first counts what
    /// the connections made the process grow (docker-proxy's goroutine stacks, our tables), the second what holding
    /// them again costs once pools and heaps have grown (Go keeps its stacks; .NET's GC may free garbage meanwhile, so
    /// ours can even shrink). The service cannot be told to collect first, as the standalone proxy-serve was.
    /// </summary>
    private static async Task<(double First, double Second)> IdleMemory(ServicePeer p, int count)
    {
        BenchTopology t = p.Topology;
        using NetworkNamespace ns = NetworkNamespace.Open(t.Client);
        using var sockets = new NamespaceSocketFactory(ns);
        var ep = new IPEndPoint(IPAddress.Parse(p.Target), p.HttpPort);
        var perConn = new double[2];
        for (int pass = 0; pass < 2; pass++)
        {
            int baseline = Established(t);
            await Task.Delay(1000);
            long rss0 = p.Pids.Sum(ProcessStats.RssBytes);
            var held = new List<Socket>(count);
            try
            {
                for (int i = 0; i < count; i++)
                {
                    Socket s = sockets.Create(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    held.Add(s);
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                    await s.ConnectAsync(ep, cts.Token);
                }

                var sw = Stopwatch.StartNew();
                while (Established(t) - baseline < count)
                {
                    if (sw.Elapsed > TimeSpan.FromSeconds(60))
                    {
                        throw new InvalidOperationException($"{p.Name}: only {Established(t) - baseline} of {count} held connections reached nginx in 60 s");
                    }

                    await Task.Delay(200);
                }

                await Task.Delay(2000); // let the proxy settle
                perConn[pass] = (p.Pids.Sum(ProcessStats.RssBytes) - rss0) / (double)count;
            }
            finally
            {
                foreach (Socket s in held)
                {
                    s.Dispose();
                }
            }

            var drain = Stopwatch.StartNew();
            while (Established(t) > baseline + (count / 100) && drain.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(200);
            }
        }

        return (perConn[0], perConn[1]);
    }

    /// <summary>Established connections nginx holds in the container (its side only: source port 7000).</summary>
    private static int Established(BenchTopology t) =>
        Sh($"ip netns exec {t.Container} ss -Htn state established '( sport = :{BenchTopology.HttpPort} )'", TimeSpan.FromSeconds(30))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>
    /// Syscalls per short connection of each proxy (`strace -c -f` attached for one 32-connection run): CPU-independent,
    /// unlike every time above. strace slows the proxy; the counts per connection are what it is for.
    /// </summary>
    private static void Syscalls(IEnumerable<ServicePeer> proxies, int seconds)
    {
        foreach (ServicePeer p in proxies)
        {
            string file = Path.Combine(p.Topology.Dir, "strace.txt");
            int pid = p.Key == "docker" ? p.Pids[2] : p.Pids[0]; // docker-proxy: the process of the HTTP port
            Process st = p.Topology.Start(p.Topology.Host, $"timeout -k 2 {seconds + 60} strace -c -f -p {pid} -o {file}");
            Thread.Sleep(1500); // attached to every thread
            double requests;
            try
            {
                requests = LoadTools.Wrk(p.Topology.Client, p.Url, 2, 32, seconds, close: true).Requests;
            }
            finally
            {
                Sh($"kill -INT {st.Id}", TimeSpan.FromSeconds(10));
                st.WaitForExit(15_000);
            }

            var calls = new List<(string Name, long Calls)>();
            foreach (string line in File.Exists(file) ? File.ReadAllLines(file) : [])
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (f.Length >= 5 && double.TryParse(f[0], CultureInfo.InvariantCulture, out _) && long.TryParse(f[3], CultureInfo.InvariantCulture, out long n))
                {
                    calls.Add((f[^1], n));
                }
            }

            long total = calls.Where(c => c.Name != "total").Sum(c => c.Calls);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{p.Name}: {total / requests:F1} syscalls per short connection ({requests:N0} connections): {string.Join(", ", calls.Where(c => c.Name != "total").OrderByDescending(c => c.Calls).Take(12).Select(c => $"{c.Name} {c.Calls / requests:F2}"))}"));
        }
    }

    /// <summary>`perf record -g` of each proxy over one 32-connection run; prints its top symbols and leaves the data in <paramref name="dir"/>.</summary>
    private static void Profiles(IEnumerable<ServicePeer> proxies, int seconds, string dir)
    {
        Directory.CreateDirectory(dir);
        foreach (ServicePeer p in proxies)
        {
            Profile(p, "short", seconds, dir, () => LoadTools.Wrk(p.Topology.Client, p.Url, 2, 32, seconds, close: true));
            if (p.UdpIperfPort is int udp)
            {
                Profile(p, "udpbulk", seconds, dir, () => LoadTools.IperfUdp(p.Topology, p.Target, udp, seconds));
            }
        }
    }

    /// <summary>`perf record -g` of one proxy's processes while <paramref name="run"/> drives <paramref name="load"/>.</summary>
    private static void Profile(ServicePeer p, string load, int seconds, string dir, Action run)
    {
        string data = Path.Combine(dir, $"{p.Key}-{load}.data");
        string pids = string.Join(',', p.Pids);
        using Process rec = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"exec timeout -k 2 {seconds + 30} perf record -q -F 999 -g -p {pids} -o {data} -- sleep {seconds + 1}"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        run();
        rec.WaitForExit(TimeSpan.FromSeconds(seconds + 40));
        Console.WriteLine($"## {p.Name}, {load}: perf report --no-children -i {data} (top symbols)");
        Console.WriteLine(Sh($"perf report -i {data} --no-children --sort dso,sym -g none -q --percent-limit 1 2>/dev/null | head -25", TimeSpan.FromSeconds(120)).TrimEnd());
    }

    private static void Print(List<ServicePeer> peers, Dictionary<string, Dictionary<ServicePeer, List<double>>> results, int rounds, int seconds, int hold)
    {
        ServicePeer? docker = peers.FirstOrDefault(p => p.Key == "docker"), nft = peers.FirstOrDefault(p => p.Key == "nft");
        ServicePeer? proxy = peers.FirstOrDefault(p => p.Key == "proxy"), nat = peers.FirstOrDefault(p => p.Key == "nat");
        double Med(string test, ServicePeer? p) => p is not null && results[test][p].Count > 0 ? Median([.. results[test][p]]) : double.NaN;

        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Medians of {rounds} interleaved rounds, {seconds} s per run; idle memory: RSS growth while {hold:N0} connections are held."));
        Console.WriteLine();
        var header = new StringBuilder("| test |");
        foreach (ServicePeer p in peers)
        {
            header.Append(CultureInfo.InvariantCulture, $" {p.Name} |");
        }

        header.Append(" ours proxy / docker-proxy | ours NAT / nft map |");
        Console.WriteLine(header);
        Console.WriteLine("| --- |" + string.Concat(Enumerable.Repeat(" ---: |", peers.Count + 2)));
        foreach ((string key, string label, bool higher, string format) in Tests)
        {
            var row = new StringBuilder($"| {label} |");
            foreach (ServicePeer p in peers)
            {
                double m = Med(key, p);
                row.Append(' ').Append(double.IsNaN(m) ? "–" : m.ToString(format, CultureInfo.InvariantCulture)).Append(" |");
            }

            string proxyGoal = key == "idlemem"
                ? Goal(Med(key, proxy) / Med(key, docker), Med(key, proxy) <= IdleGoalBytes, $"≤ {IdleGoalBytes:N0} B")
                : ProxyGoals.TryGetValue(key, out double g)
                    ? Goal(Med(key, proxy) / Med(key, docker), higher ? Med(key, proxy) / Med(key, docker) >= g : Med(key, proxy) / Med(key, docker) <= g, higher ? $"≥ {g:F2}×" : $"≤ {g:F2}×")
                    : Goal(Med(key, proxy) / Med(key, docker), null, null);
            string natGoal = ProxyOnly.Contains(key)
                ? "–"
                : Goal(Med(key, nat) / Med(key, nft), higher ? Med(key, nat) / Med(key, nft) >= NatGoal : Med(key, nat) / Med(key, nft) <= 1 / NatGoal, higher ? $"≥ {NatGoal:F2}×" : $"≤ {1 / NatGoal:F2}×");
            row.Append(CultureInfo.InvariantCulture, $" {proxyGoal} | {natGoal} |");
            Console.WriteLine(row);
        }

        // The spread: each round runs every peer once, so a ratio taken within a round compares like with like; its
        // range over the rounds says how much of a median ratio is the machine.
        Console.WriteLine();
        Console.WriteLine("The same ratios taken round by round (each round runs every peer once), lowest–highest:");
        Console.WriteLine();
        Console.WriteLine("| test | ours proxy / docker-proxy | ours NAT / nft map |");
        Console.WriteLine("| --- | ---: | ---: |");
        foreach ((string key, string label, bool _, string _) in Tests)
        {
            Console.WriteLine($"| {label} | {Range(results[key], proxy, docker)} | {(ProxyOnly.Contains(key) ? "–" : Range(results[key], nat, nft))} |");
        }

        // What a proxy can gain on a machine its load keeps busy: the rest of the machine (load generator, backend,
        // the kernel's work for both hops) costs what it costs per operation whoever proxies, so a proxy costing
        // nothing at all would run docker-proxy's whole-machine CPU per operation minus docker-proxy's own.
        if (proxy is not null && docker is not null)
        {
            Console.WriteLine();
            Console.WriteLine("The most a proxy could beat docker-proxy by here, had it cost no CPU at all: docker-proxy's whole-machine CPU per operation over the rest of it (that minus docker-proxy's own). It holds while the load keeps the machine busy.");
            Console.WriteLine();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| test | CPUs busy (of {Environment.ProcessorCount}) | docker-proxy: whole machine / own | ceiling | ours proxy: whole machine / own | ours / docker-proxy | goal |"));
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach ((string rate, string own, string machine, double toCpus) in Ceilings)
            {
                double dm = Med(machine, docker), dp = Med(own, docker), om = Med(machine, proxy), op = Med(own, proxy);
                string label = Tests.First(t => t.Key == rate).Label;
                string goal = ProxyGoals.TryGetValue(rate, out double g) ? string.Create(CultureInfo.InvariantCulture, $"≥ {g:F2}×") : "–";
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {label} | {dm * Med(rate, docker) * toCpus:F2} / {om * Med(rate, proxy) * toCpus:F2} | {dm:G3} / {dp:G3} | {dm / (dm - dp):F2}× | {om:G3} / {op:G3} | {Med(rate, proxy) / Med(rate, docker):F2}× | {goal} |"));
            }
        }

        Console.WriteLine();
        Console.WriteLine("Throughput and rates are only as good as the machine is quiet: the 2 cores carry the load generator, the backends and the proxy at once.");
    }

    private static string Range(Dictionary<ServicePeer, List<double>> byPeer, ServicePeer? ours, ServicePeer? peer)
    {
        if (ours is null || peer is null || !byPeer.TryGetValue(ours, out List<double>? a) || !byPeer.TryGetValue(peer, out List<double>? b))
        {
            return "–";
        }

        double[] ratios = [.. a.Zip(b, (x, y) => x / y).Where(r => !double.IsNaN(r) && !double.IsInfinity(r))];
        return ratios.Length == 0 ? "–" : string.Create(CultureInfo.InvariantCulture, $"{ratios.Min():F2}–{ratios.Max():F2}×");
    }

    private static string Goal(double ratio, bool? met, string? goal) =>
        double.IsNaN(ratio) || double.IsInfinity(ratio)
            ? "–"
            : string.Create(CultureInfo.InvariantCulture, $"{ratio:F2}×{(goal is null ? string.Empty : $" (goal {goal}: {(met == true ? "met" : "MISSED")})")}");

    private static void NftMap(BenchTopology t)
    {
        string file = Path.Combine(t.Dir, "map.nft");
        File.WriteAllText(file,
            "table ip ppscmap {\n" +
            "  map ports { type inet_proto . inet_service : ipv4_addr . inet_service; elements = { " +
            $"tcp . 8001 : {BenchTopology.ContainerAddress} . 5201, udp . 8001 : {BenchTopology.ContainerAddress} . 5201, tcp . 8002 : {BenchTopology.ContainerAddress} . 7000, udp . 8004 : {BenchTopology.ContainerAddress} . 53 }} }}\n" +
            "  chain pre { type nat hook prerouting priority dstnat; policy accept; dnat ip to meta l4proto . th dport map @ports; }\n" +
            "}\n");
        Sh($"ip netns exec {t.Host} nft -f {file}", TimeSpan.FromSeconds(30));
    }

    private static string HaproxyConfig(BenchTopology t)
    {
        string file = Path.Combine(t.Dir, "haproxy.cfg");
        File.WriteAllText(file, string.Create(CultureInfo.InvariantCulture, $"""
            global
                # Within this sandbox's hard RLIMIT_NOFILE of 20,000 (two fds per connection).
                maxconn 6000
                nbthread 2
                pidfile {t.Dir}/haproxy.pid
            defaults
                mode tcp
                timeout connect 5s
                timeout client 300s
                timeout server 300s
                option splice-request
                option splice-response
            frontend iperf
                bind 0.0.0.0:8001
                default_backend iperf
            backend iperf
                server s {BenchTopology.ContainerAddress}:{BenchTopology.IperfPort}
            frontend http
                bind 0.0.0.0:8002
                maxconn 6000
                default_backend http
            backend http
                server s {BenchTopology.ContainerAddress}:{BenchTopology.HttpPort}

            """));
        return file;
    }

    private static Dictionary<string, string?> ParseOptions(string[] args)
    {
        var o = new Dictionary<string, string?>();
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{a}'");
            }

            string name = a[2..];
            if (name == "strace")
            {
                o[name] = null;
                continue;
            }

            if (name is not ("docker-proxy" or "rounds" or "seconds" or "only" or "hold" or "service" or "cli" or "perf" or "deadline"))
            {
                throw new ArgumentException($"unknown option '{a}'");
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{a} needs a value");
            }

            o[name] = args[++i];
        }

        foreach (string n in new[] { "rounds", "seconds", "hold", "deadline" })
        {
            if (o.TryGetValue(n, out string? v) && (!int.TryParse(v, CultureInfo.InvariantCulture, out int x) || x < 1))
            {
                throw new ArgumentException($"--{n} must be a positive number, not '{v}'");
            }
        }

        string[] known = ["direct", "nft", "docker", "haproxy", "proxy", "nat"];
        if (o.GetValueOrDefault("only") is { } only && only.Split(',').FirstOrDefault(x => !known.Contains(x)) is { } bad)
        {
            throw new ArgumentException($"--only: unknown peer '{bad}' (direct, nft, docker, haproxy, proxy, nat)");
        }

        return o;
    }

    private static int Int(Dictionary<string, string?> o, string name, int fallback) =>
        o.TryGetValue(name, out string? v) && v is not null ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/usr/sbin").Split(':').Append("/usr/sbin").Append("/sbin").Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>The CLI as built: the apphost next to the dll (the native CLI when it is there instead), else dotnet on the dll.</summary>
    private static string DefaultCli(string root)
    {
        string dir = Path.Combine(root, "src", "PortPublisher.Cli", "bin", "Release", "net10.0");
        return File.Exists(Path.Combine(dir, "portpublisher")) ? Path.Combine(dir, "portpublisher") : $"dotnet {Path.Combine(dir, "portpublisher.dll")}";
    }

    private static string FindRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? throw new InvalidOperationException("PortPublisher.sln not found");
    }
}
