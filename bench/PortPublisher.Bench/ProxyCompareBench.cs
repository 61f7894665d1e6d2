using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using PortPublisher.Netlink;
using PortPublisher.Proxy;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Our userland proxy (splice and copy paths) side by side with docker-proxy and socat, same topology:
/// client netns → host netns (the proxies listen on 192.0.2.1) → container netns 10.99.0.2 (iperf3 server,
/// a 1-byte request/response server, a server that holds connections). Interleaved rounds; medians.
/// </summary>
internal static class ProxyCompareBench
{
    /// <summary>The CPU budget of the capped measurements: half of one CPU.</summary>
    private const double CappedCpus = 0.5;

    private static Action? s_restartIperf;

    /// <summary>A peer under test; a class (reference equality), since it keys dictionaries and its budget is set later.</summary>
    private sealed class Peer(string name, int basePort, List<Process> processes)
    {
        public string Name => name;

        public int BasePort => basePort;

        public List<Process> Processes => processes;

        public int IperfPort => BasePort + 1;

        public int ShortPort => BasePort + 2;

        public int HoldPort => BasePort + 3;

        public CpuBudget? Budget { get; set; }

        /// <summary>The process serving a port (ours: one process for all its bindings).</summary>
        public int Pid(int port) => Processes.Count == 1 ? Processes[0].Id : Processes[port - BasePort - 1].Id;
    }

    public static async Task Run(string dockerProxy, int rounds, int holdConnections, string only = "splice,copy,docker,socat")
    {
        string id = $"pppx{Environment.ProcessId % 100000}";
        string h = $"{id}h", c = $"{id}c", x = $"{id}x";
        var peers = new List<Peer>();
        Process? iperf = null;
        Process? nginx = null;
        try
        {
            Topology(h, c, x);
            using NetworkNamespace ctrNs = NetworkNamespace.Open(c), clientNs = NetworkNamespace.Open(x);
            using var ctrSockets = new NamespaceSocketFactory(ctrNs);
            using var clientSockets = new NamespaceSocketFactory(clientNs);
            iperf = Start($"ip netns exec {c} iperf3 -s -p 5201");
            s_restartIperf = () =>
            {
                iperf.Kill();
                iperf.WaitForExit();
                iperf = Start($"ip netns exec {c} iperf3 -s -p 5201");
                Thread.Sleep(500);
            };
            using var cts = new CancellationTokenSource();
            int held = 0;
            // Short connections: wrk (C, epoll) → proxy → nginx answering 204 and closing, so the load generator
            // and the backend are not what limits the rate on this 2-core machine.
            string nginxDir = Directory.CreateTempSubdirectory("ppnginx-").FullName;
            File.WriteAllText(Path.Combine(nginxDir, "nginx.conf"), $"worker_processes 1; daemon off; pid {nginxDir}/pid; error_log {nginxDir}/error.log;\n" +
                "events { worker_connections 16384; }\n" +
                $"http {{ access_log off; keepalive_timeout 0; client_body_temp_path {nginxDir}; proxy_temp_path {nginxDir}; fastcgi_temp_path {nginxDir}; uwsgi_temp_path {nginxDir}; scgi_temp_path {nginxDir};\n" +
                "  server { listen 10.99.0.2:7000 backlog=4096; location / { return 204; } } }\n");
            nginx = Start($"ip netns exec {c} nginx -c {nginxDir}/nginx.conf -p {nginxDir}");
            var holding = new List<Socket>();
            Serve(ctrSockets, 7001, s =>
            {
                lock (holding)
                {
                    holding.Add(s);
                    held++;
                }

                return Task.Delay(Timeout.Infinite, cts.Token);
            }, cts.Token);

            string self = typeof(ProxyCompareBench).Assembly.Location;
            string Map(int port, int target) => $"0.0.0.0:{port}=10.99.0.2:{target}";
            string[] wanted = only.Split(',');
            if (wanted.Contains("splice"))
            {
                peers.Add(new Peer("portpublisher (splice)", 9100, [StartOurs(h, c, self, "splice", 9100, Map)]));
            }

            if (wanted.Contains("copy"))
            {
                peers.Add(new Peer("portpublisher (copy)", 9200, [StartOurs(h, c, self, "copy", 9200, Map)]));
            }

            peers.Add(new Peer("docker-proxy 20.10", 9300, [.. new[] { 5201, 7000, 7001 }.Select((t, i) =>
                Start($"ip netns exec {h} {dockerProxy} -proto tcp -host-ip 0.0.0.0 -host-port {9301 + i} -container-ip 10.99.0.2 -container-port {t} 3>/dev/null"))])); // fd 3: the status pipe docker-proxy reports "0" on and closes
            if (wanted.Contains("socat"))
            {
                peers.Add(new Peer("socat", 9400, [.. new[] { 5201, 7000, 7001 }.Select((t, i) =>
                    Start($"ip netns exec {h} socat TCP-LISTEN:{9401 + i},fork,reuseaddr,backlog=4096 TCP:10.99.0.2:{t}"))]));
            }
            await Task.Delay(1000);

            // Warm-up, not measured: every peer's code paths run once (for ours: the JIT reaches tier 1).
            foreach (Peer p in peers)
            {
                Iperf(x, p.IperfPort, streams: 1, seconds: 2);
                Wrk(x, p.ShortPort, seconds: 2);
            }

            // Each peer in a CPU cgroup of its own, limited to half a CPU only for the "capped" measurements.
            foreach (Peer p in peers)
            {
                p.Budget = CpuBudget.TryCreate($"{id}-{p.BasePort}");
                p.Budget?.Add(p.Processes.Select(q => q.Id));
            }

            var tput1 = peers.ToDictionary(p => p, _ => new List<double>());
            var cappedTput = peers.ToDictionary(p => p, _ => new List<double>());
            var cappedRate = peers.ToDictionary(p => p, _ => new List<double>());
            var capped4 = peers.ToDictionary(p => p, _ => new List<double>());
            var senderCpu = peers.ToDictionary(p => p, _ => new List<double>());
            var tput4 = peers.ToDictionary(p => p, _ => new List<double>());
            var cpuPerGb = peers.ToDictionary(p => p, _ => new List<double>());
            var connRate = peers.ToDictionary(p => p, _ => new List<double>());
            var p99 = peers.ToDictionary(p => p, _ => new List<double>());
            var cpuPerConn = peers.ToDictionary(p => p, _ => new List<double>());
            for (int r = 0; r < rounds; r++)
            {
                foreach (Peer p in peers)
                {
                    double cpu0 = ProcessStats.CpuSeconds(p.Pid(p.IperfPort));
                    (double bps, double bytes, double sender) = Iperf(x, p.IperfPort, streams: 1);
                    senderCpu[p].Add(sender);
                    double cpu1 = ProcessStats.CpuSeconds(p.Pid(p.IperfPort));
                    tput1[p].Add(bps / 1e9);
                    cpuPerGb[p].Add((cpu1 - cpu0) / (bytes / 1e9));
                    tput4[p].Add(Iperf(x, p.IperfPort, streams: 4).Bps / 1e9);
                    double cpuC0 = ProcessStats.CpuSeconds(p.Pid(p.ShortPort));
                    (double rate, double p99us, double requests) = Wrk(x, p.ShortPort, seconds: 4);
                    double cpuC1 = ProcessStats.CpuSeconds(p.Pid(p.ShortPort));
                    connRate[p].Add(rate);
                    p99[p].Add(p99us);
                    cpuPerConn[p].Add((cpuC1 - cpuC0) * 1e6 / requests);
                    if (p.Budget is { } budget)
                    {
                        budget.Limit(CappedCpus);
                        try
                        {
                            cappedTput[p].Add(Iperf(x, p.IperfPort, streams: 1).Bps / 1e9);
                            capped4[p].Add(Iperf(x, p.IperfPort, streams: 4).Bps / 1e9);
                            cappedRate[p].Add(Wrk(x, p.ShortPort, seconds: 4).Rate);
                        }
                        finally
                        {
                            budget.Limit(null);
                        }
                    }
                }
            }

            var rss = new Dictionary<Peer, (double PerConn, double PssPerConn, int Processes)>();
            foreach (Peer p in peers)
            {
                rss[p] = await IdleMemory(clientSockets, p, holdConnections, () => Volatile.Read(ref held), holding);
            }

            Peer dp = peers.Single(p => p.Name.StartsWith("docker-proxy", StringComparison.Ordinal));
            Console.WriteLine($"| proxy | 1-stream Gbit/s | 4-stream Gbit/s | CPU s per GB (1 stream) | short conns/s (wrk, 16 conns) | p99 ms | CPU µs per conn | RSS per idle conn (B) | PSS per idle conn (B) | processes at {holdConnections:N0} held |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (Peer p in peers)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {p.Name} | {Median(tput1[p]):F2} | {Median(tput4[p]):F2} | {Median(cpuPerGb[p]):F3} | {Median(connRate[p]):F0} | {Median(p99[p]) / 1000:F2} | {Median(cpuPerConn[p]):F1} | {rss[p].PerConn:F0} | {rss[p].PssPerConn:F0} | {rss[p].Processes} |"));
            }

            if (peers.All(p => cappedTput[p].Count > 0))
            {
                Console.WriteLine();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Each proxy held to {CappedCpus} CPU (its own cgroup), so the proxy, not the load generator, is the bottleneck:"));
                Console.WriteLine();
                Console.WriteLine("| proxy | 1-stream Gbit/s, capped | 4-stream Gbit/s, capped | short conns/s, capped | iperf3 sender CPU %, uncapped 1-stream |");
                Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
                foreach (Peer p in peers)
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {p.Name} | {Median(cappedTput[p]):F2} | {Median(capped4[p]):F2} | {Median(cappedRate[p]):F0} | {Median(senderCpu[p]):F0} |"));
                }
            }

            Console.WriteLine();
            foreach (Peer p in peers.Where(p => p != dp))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{p.Name} vs docker-proxy: throughput 1-stream {Median(tput1[p]) / Median(tput1[dp]):F2}x, 4-stream {Median(tput4[p]) / Median(tput4[dp]):F2}x, conns/s {Median(connRate[p]) / Median(connRate[dp]):F2}x, p99 {Median(p99[p]) / Median(p99[dp]):F2}x, CPU/conn {Median(cpuPerConn[p]) / Median(cpuPerConn[dp]):F2}x, RSS/conn {rss[p].PerConn / rss[dp].PerConn:F2}x, CPU/GB {Median(cpuPerGb[p]) / Median(cpuPerGb[dp]):F2}x{(cappedTput[p].Count > 0 ? string.Create(CultureInfo.InvariantCulture, $", capped 1-stream {Median(cappedTput[p]) / Median(cappedTput[dp]):F2}x, capped 4-stream {Median(capped4[p]) / Median(capped4[dp]):F2}x, capped conns/s {Median(cappedRate[p]) / Median(cappedRate[dp]):F2}x") : string.Empty)}"));
            }

            await cts.CancelAsync();
        }
        finally
        {
            foreach (Peer p in peers)
            {
                p.Budget?.Dispose();
            }

            foreach (Process p in peers.SelectMany(p => p.Processes).Append(iperf).Append(nginx).OfType<Process>())
            {
                try
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(5000);
                }
                catch (InvalidOperationException)
                {
                }
            }

            foreach (string ns in new[] { h, c, x })
            {
                try
                {
                    Sh($"ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}");
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    }

    private static void Topology(string h, string c, string x)
    {
        foreach (string ns in new[] { h, c, x })
        {
            Sh($"ip netns add {ns} && ip -n {ns} link set lo up");
        }

        Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
        Sh($"ip -n {h} link add vx0 type veth peer name vx1 netns {x}");
        Sh($"ip -n {h} addr add 10.99.0.1/24 dev vh0 && ip -n {h} addr add 192.0.2.1/24 dev vx0 && ip -n {h} link set vh0 up && ip -n {h} link set vx0 up");
        Sh($"ip -n {c} addr add 10.99.0.2/24 dev vc0 && ip -n {c} link set vc0 up && ip -n {c} route add default via 10.99.0.1");
        Sh($"ip -n {x} addr add 192.0.2.2/24 dev vx1 && ip -n {x} link set vx1 up && ip -n {x} route add default via 192.0.2.1");
        Sh($"ip netns exec {h} sysctl -qw net.ipv4.ip_forward=1 net.core.somaxconn=4096");
        Sh($"ip netns exec {c} sysctl -qw net.core.somaxconn=4096");
    }

    private static Process StartOurs(string h, string c, string self, string mode, int basePort, Func<int, int, string> map)
    {
        Process p = Start($"ip netns exec {h} dotnet {self} proxy-serve 0.0.0.0:{basePort + 1} 10.99.0.2:5201 {c} {mode} {map(basePort + 2, 7000)} {map(basePort + 3, 7001)}", stdin: true);
        string? line = p.StandardOutput.ReadLine();
        if (line is null || !line.StartsWith("ready", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"our proxy did not start: {p.StandardError.ReadToEnd()}");
        }

        return p;
    }

    private static Process Start(string command, bool stdin = false)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"exec {command}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin,
        };
        return Process.Start(psi)!;
    }

    private static void Serve(NamespaceSocketFactory sockets, int port, Func<Socket, Task> handler, CancellationToken ct)
    {
        Socket l = sockets.Create(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        l.Bind(new IPEndPoint(IPAddress.Parse("10.99.0.2"), port));
        l.Listen(4096);
        _ = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                Socket s = await l.AcceptAsync(ct);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await handler(s);
                    }
                    catch (Exception)
                    {
                    }
                    finally
                    {
                        if (port != 7001)
                        {
                            s.Dispose();
                        }
                    }
                }, ct);
            }
        }, ct);
    }

    /// <summary>
    /// One iperf3 run. iperf3 3.12's server can wedge after a test (it keeps a finished control connection in
    /// CLOSE-WAIT and stops accepting): a run that does not end in time restarts the server and is tried once more.
    /// </summary>
    private static (double Bps, double Bytes, double SenderCpu) Iperf(string clientNs, int port, int streams, int seconds = 4)
    {
        try
        {
            return IperfOnce(clientNs, port, streams, seconds);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"iperf3 via port {port} failed ({e.Message.Split('\n')[0]}); restarting the server and retrying once");
            s_restartIperf?.Invoke();
            return IperfOnce(clientNs, port, streams, seconds);
        }
    }

    private static (double Bps, double Bytes, double SenderCpu) IperfOnce(string clientNs, int port, int streams, int seconds)
    {
        string json = Sh($"ip netns exec {clientNs} timeout -k 2 {seconds + 20} iperf3 -c 192.0.2.1 -p {port} -t {seconds} -P {streams} -J");
        using JsonDocument d = JsonDocument.Parse(json);
        if (d.RootElement.TryGetProperty("error", out JsonElement error))
        {
            throw new InvalidOperationException($"iperf3 through port {port}: {error.GetString()}");
        }

        JsonElement end = d.RootElement.GetProperty("end");
        JsonElement sum = end.GetProperty("sum_received");

        // The sending iperf3's own CPU time over the test (user + system, % of one CPU): near 100 it, not the proxy, is the limit.
        double sender = end.TryGetProperty("cpu_utilization_percent", out JsonElement cpu) ? cpu.GetProperty("host_total").GetDouble() : double.NaN;
        return (sum.GetProperty("bits_per_second").GetDouble(), sum.GetProperty("bytes").GetDouble(), sender);
    }

    /// <summary>wrk with "Connection: close": every request is a new connection through the proxy.</summary>
    private static (double Rate, double P99Us, double Requests) Wrk(string clientNs, int port, int seconds)
    {
        string output = Sh($"ip netns exec {clientNs} wrk -t2 -c16 -d{seconds}s --latency -H 'Connection: close' http://192.0.2.1:{port}/");
        double rate = 0, p99 = 0, requests = 0;
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("Requests/sec:", StringComparison.Ordinal))
            {
                rate = double.Parse(line["Requests/sec:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("99%", StringComparison.Ordinal))
            {
                p99 = WrkMicros(line[3..].Trim());
            }
            else if (line.Contains("requests in", StringComparison.Ordinal))
            {
                requests = double.Parse(line.Split(' ')[0], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Socket errors", StringComparison.Ordinal) || line.StartsWith("Non-2xx", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"wrk via port {port}: {line}");
            }
        }

        return (rate, p99, requests);
    }

    private static double WrkMicros(string v)
    {
        double unit = v.EndsWith("us", StringComparison.Ordinal) ? 1 : v.EndsWith("ms", StringComparison.Ordinal) ? 1000 : 1e6;
        return double.Parse(v.TrimEnd('u', 'm', 's'), CultureInfo.InvariantCulture) * unit;
    }

    /// <summary>Ours only: a full GC first, so the RSS difference is live memory per connection, not garbage of the earlier runs.</summary>
    private static void CollectIfOurs(Peer p)
    {
        if (p.Processes.Count == 1 && p.Processes[0].StartInfo.RedirectStandardInput)
        {
            p.Processes[0].StandardInput.WriteLine("gc");
            p.Processes[0].StandardInput.Flush();
            if (p.Processes[0].StandardOutput.ReadLine() != "gc-done")
            {
                throw new InvalidOperationException("our proxy did not confirm the collection");
            }
        }
    }

    private static async Task<(double, double, int)> IdleMemory(NamespaceSocketFactory client, Peer p, int count, Func<int> held, List<Socket> holding)
    {
        int pid = p.Pid(p.HoldPort);
        await Task.Delay(500);
        CollectIfOurs(p);
        long rss0 = ProcessStats.RssBytes(pid), pss0 = ProcessStats.PssBytes(pid);
        int before = held();
        var ep = new IPEndPoint(IPAddress.Parse("192.0.2.1"), p.HoldPort);
        var sockets = new List<Socket>(count);
        for (int i = 0; i < count; i++)
        {
            Socket s = client.Create(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(ep);
            sockets.Add(s);
        }

        var sw = Stopwatch.StartNew();
        while (held() - before < count && sw.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(50);
        }

        await Task.Delay(2000); // let the proxy settle
        CollectIfOurs(p);
        long rss1 = ProcessStats.RssBytes(pid), pss1 = ProcessStats.PssBytes(pid);
        int processes = ProcessStats.Count(pid);
        foreach (Socket s in sockets)
        {
            s.Dispose();
        }

        lock (holding)
        {
            foreach (Socket s in holding)
            {
                s.Dispose();
            }

            holding.Clear();
        }

        await Task.Delay(1000);
        if (held() - before < count)
        {
            throw new InvalidOperationException($"{p.Name}: only {held() - before} of {count} connections reached the backend");
        }

        return ((rss1 - rss0) / (double)count, (pss1 - pss0) / (double)count, processes);
    }
}
