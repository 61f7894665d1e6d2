using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PortPublisher.Netlink;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// portpublisher-cni side by side with Debian's portmap (1.1.1, iptables) in the same chain slot, driven as libcni
/// drives a chained plugin (CNI_* environment, the configuration with runtimeConfig.portMappings and a bridge +
/// host-local prevResult on stdin), in throwaway namespaces: a host with a bridge, N container namespaces on it, a
/// client beyond the host. Slots: portmap, ours in direct mode, ours through portpublisherd. Per slot: the reachability
/// matrix, the wall time of each ADD and DEL (process start included, as a runtime pays it) for N containers × P ports,
/// and sequential connections per second to the last container's port with all N × P ports mapped.
/// </summary>
internal static class CniCompareBench
{
    private const string Gateway = "10.89.0.1";

    public static async Task Run(string plugin, string portmap, int containers, int ports, int connections)
    {
        string id = $"ppcb{Environment.ProcessId % 100000}";
        string h = $"{id}h", x = $"{id}x";
        string dir = Directory.CreateTempSubdirectory("ppcni-bench-").FullName;
        var made = new List<string> { h, x };
        Process? service = null;
        try
        {
            Sh($"ip netns add {h} && ip -n {h} link set lo up && ip netns add {x} && ip -n {x} link set lo up");
            Sh($"ip -n {h} link add vx0 type veth peer name vx1 netns {x}");
            Sh($"ip -n {h} addr add 192.0.2.1/24 dev vx0 && ip -n {h} link set vx0 up");
            Sh($"ip -n {x} addr add 192.0.2.2/24 dev vx1 && ip -n {x} link set vx1 up && ip -n {x} route add default via 192.0.2.1");
            Sh($"ip -n {h} link add br0 type bridge && ip -n {h} addr add {Gateway}/16 dev br0 && ip -n {h} link set br0 up");
            for (int i = 0; i <= containers; i++)
            {
                // Container i is 10.89.(1 + i/200).(1 + i%200); the last one (index N) is the matrix's.
                string c = $"{id}c{i}";
                made.Add(c);
                Sh($"ip netns add {c} && ip -n {c} link set lo up && ip -n {h} link add v{i} type veth peer name eth0 netns {c}"
                    + $" && ip -n {h} link set v{i} master br0 && ip -n {h} link set v{i} type bridge_slave hairpin on && ip -n {h} link set v{i} up"
                    + $" && ip -n {c} addr add {Address(i)}/16 dev eth0 && ip -n {c} link set eth0 up && ip -n {c} route add default via {Gateway}");
            }

            using NetworkNamespace client = NetworkNamespace.Open(x), host = NetworkNamespace.Open(h);
            using NetworkNamespace last = NetworkNamespace.Open($"{id}c{containers - 1}"), matrix = NetworkNamespace.Open($"{id}c{containers}");
            using var cts = new CancellationTokenSource();
            using Socket lastServer = OneByteServer.Start(last, new IPEndPoint(IPAddress.Any, 80), 1024, cts.Token), matrixServer = OneByteServer.Start(matrix, new IPEndPoint(IPAddress.Any, 80), 1024, cts.Token);
            using Socket udp = matrix.Run(() =>
            {
                var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(new IPEndPoint(IPAddress.Any, 53));
                return s;
            });
            _ = Echo(udp, cts.Token);

            string repo = FindRepoRoot();
            string serviceDll = Path.Combine(repo, "src", "PortPublisher.Service", "bin", "Release", "net10.0", "portpublisherd.dll");
            double nsExec = Median([.. Enumerable.Range(0, 9).Select(_ => TimeMs($"ip netns exec {h} true"))]);
            Console.WriteLine($"`ip netns exec NS true` alone: {nsExec:F1} ms (in every ADD/DEL below). Plugin: {plugin}; portmap: {portmap}. {containers} containers x {ports} ports.");
            Console.WriteLine();
            var rows = new List<string>();
            var matrixRows = new List<string>();
            foreach (string slot in new[] { "portmap", "portpublisher-cni (direct)", "portpublisher-cni (service)" })
            {
                if (slot.EndsWith("(service)", StringComparison.Ordinal))
                {
                    service = StartService(h, dir, serviceDll);
                }

                string bin = slot == "portmap" ? portmap : plugin;
                string options = slot switch
                {
                    "portmap" => "\"snat\":true",
                    "portpublisher-cni (direct)" => $"\"mode\":\"direct\",\"stateDir\":\"{dir}/state\"",
                    _ => $"\"mode\":\"service\",\"socket\":\"{dir}/svc/pp.sock\",\"stateDir\":\"{dir}/state\"",
                };
                string type = slot == "portmap" ? "portmap" : "portpublisher-cni";

                // The matrix: one container with 18080 -> 80, 127.0.0.1:18081 -> 80, 18082 -> 53/udp.
                string m = $"{{\"hostPort\":18080,\"containerPort\":80,\"protocol\":\"tcp\",\"hostIP\":\"\"}},{{\"hostPort\":18081,\"containerPort\":80,\"protocol\":\"tcp\",\"hostIP\":\"127.0.0.1\"}},{{\"hostPort\":18082,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"\"}}";
                Invoke(h, bin, "ADD", $"m{containers}", $"{id}c{containers}", Conf(type, options, m, containers));
                string matrixRow = string.Join(" | ", new[]
                {
                    await Tcp(client, "192.0.2.1", 18080),
                    await Tcp(host, Gateway, 18080),
                    await Tcp(host, "127.0.0.1", 18080),
                    await Tcp(host, "127.0.0.1", 18081),
                    Not(await Tcp(client, "192.0.2.1", 18081)),
                    await Tcp(matrix, Gateway, 18080),
                    await Tcp(matrix, "192.0.2.1", 18080),
                    await Udp(client, "192.0.2.1", 18082),
                });
                matrixRows.Add($"| {slot} | {matrixRow} |");
                Invoke(h, bin, "DEL", $"m{containers}", $"{id}c{containers}", Conf(type, options, m, containers));

                var add = new List<double>();
                var del = new List<double>();
                for (int i = 0; i < containers; i++)
                {
                    add.Add(Invoke(h, bin, "ADD", $"c{i}", $"{id}c{i}", Conf(type, options, Mappings(i, ports), i)));
                }

                double perSecond = await ConnectionsPerSecond(client, (ushort)(30000 + ((containers - 1) * ports)), connections);
                for (int i = 0; i < containers; i++)
                {
                    del.Add(Invoke(h, bin, "DEL", $"c{i}", $"{id}c{i}", Conf(type, options, Mappings(i, ports), i)));
                }

                rows.Add($"| {slot} | {Median(add):F1} | {Percentile(add, 0.95):F1} | {add.Sum() / 1000:F2} | {Median(del):F1} | {del.Sum() / 1000:F2} | {perSecond:N0} |");
                if (service is not null)
                {
                    lock (ServiceMs)
                    {
                        List<double> pub = [.. ServiceMs.Where(v => v.Verb == "Published").Select(v => v.Ms)], unpub = [.. ServiceMs.Where(v => v.Verb == "Unpublished").Select(v => v.Ms)];
                        if (pub.Count > 0 && unpub.Count > 0)
                        {
                            Console.WriteLine($"portpublisherd's own time (its log): publish median {Median(pub):F1} ms, unpublish median {Median(unpub):F1} ms");
                            Console.WriteLine("  its steps, medians (ms): " + string.Join(", ", ServiceSteps.GroupBy(x => x.Step).Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key} {Median([.. g.Select(x => x.Ms)]):F1}"))));
                        }
                    }

                    Sh($"kill -TERM {service.Id}");
                    service.WaitForExit(15_000);
                    service = null;
                }
            }

            Console.WriteLine("| slot | client -> host:18080 | host -> gateway:18080 | host -> 127.0.0.1:18080 | host -> 127.0.0.1:18081 | client -> host:18081 refused | hairpin via gateway | hairpin via host address | client -> host:18082/udp |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            matrixRows.ForEach(Console.WriteLine);
            Console.WriteLine();
            Console.WriteLine($"| slot | ADD median ms | ADD p95 ms | {containers} ADDs s | DEL median ms | {containers} DELs s | conns/s with {containers * ports:N0} ports mapped ({connections} sequential, to the last container) |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            rows.ForEach(Console.WriteLine);
            await cts.CancelAsync();
        }
        finally
        {
            if (service is { HasExited: false })
            {
                service.Kill();
            }

            foreach (string ns in made)
            {
                try
                {
                    Sh($"ip netns del {ns}");
                }
                catch (InvalidOperationException)
                {
                }
            }

            Directory.Delete(dir, recursive: true);
        }
    }

    private static string Address(int i) => $"10.89.{1 + (i / 200)}.{1 + (i % 200)}";

    private static string Mappings(int container, int ports) => string.Join(",", Enumerable.Range(0, ports).Select(j =>
        $"{{\"hostPort\":{30000 + (container * ports) + j},\"containerPort\":80,\"protocol\":\"tcp\",\"hostIP\":\"\"}}"));

    private static string Conf(string type, string options, string mappings, int container) =>
        $"{{\"cniVersion\":\"1.0.0\",\"name\":\"benchnet\",\"type\":\"{type}\",\"capabilities\":{{\"portMappings\":true}},{options},"
        + $"\"runtimeConfig\":{{\"portMappings\":[{mappings}]}},"
        + $"\"prevResult\":{{\"cniVersion\":\"1.0.0\",\"interfaces\":[{{\"name\":\"br0\"}},{{\"name\":\"v{container}\"}},{{\"name\":\"eth0\",\"sandbox\":\"/run/netns/x\"}}],"
        + $"\"ips\":[{{\"interface\":2,\"address\":\"{Address(container)}/16\",\"gateway\":\"{Gateway}\"}}],\"routes\":[{{\"dst\":\"0.0.0.0/0\"}}],\"dns\":{{}}}}}}";

    /// <summary>One plugin invocation inside the host namespace; its wall time in ms. Fails loudly on a CNI error.</summary>
    private static double Invoke(string hostNs, string bin, string command, string containerId, string netns, string conf)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", hostNs, bin])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment.Clear();
        psi.Environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
        psi.Environment["CNI_COMMAND"] = command;
        psi.Environment["CNI_CONTAINERID"] = containerId;
        psi.Environment["CNI_NETNS"] = $"/run/netns/{netns}";
        psi.Environment["CNI_IFNAME"] = "eth0";
        psi.Environment["CNI_PATH"] = "/usr/lib/cni";
        var sw = Stopwatch.StartNew();
        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        p.StandardInput.Write(conf);
        p.StandardInput.Close();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{bin} {command} did not finish in 60 s");
        }

        double ms = sw.Elapsed.TotalMilliseconds;
        return p.ExitCode == 0 ? ms : throw new InvalidOperationException($"{bin} {command} {containerId} exited {p.ExitCode}: {o.Result} {e.Result}");
    }

    private static readonly List<(string Verb, double Ms)> ServiceMs = [];
    private static readonly List<(string Step, double Ms)> ServiceSteps = [];

    private static Process StartService(string hostNs, string dir, string dll)
    {
        Directory.CreateDirectory(Path.Combine(dir, "svc"));
        var psi = new ProcessStartInfo("ip", ["netns", "exec", hostNs, "dotnet", dll, "--socket", $"{dir}/svc/pp.sock", "--state-dir", $"{dir}/svc/state", "--metrics", string.Empty])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["Logging__LogLevel__PortPublisher.Service.Publications.Publisher"] = "Debug"; // each publish's steps
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) =>
        {
            // "Published NAME in NETNS: N bindings in X ms": the service's own share of each ADD.
            if (e.Data is { } line && System.Text.RegularExpressions.Regex.Match(line, @"(Published|Unpublished) \S+.* in ([0-9.]+) ms") is { Success: true } m)
            {
                lock (ServiceMs)
                {
                    ServiceMs.Add((m.Groups[1].Value, double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)));
                }
            }

            // "Publish NAME steps (ms): open target 4.1, allocate 1.2, …": where the service's share goes.
            if (e.Data is { } steps && System.Text.RegularExpressions.Regex.Match(steps, @"(Publish|Unpublish) \S+ steps \(ms\): (.*)$") is { Success: true } s)
            {
                lock (ServiceMs)
                {
                    foreach (string part in s.Groups[2].Value.Split(", "))
                    {
                        int space = part.LastIndexOf(' ');
                        if (space > 0 && double.TryParse(part[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms))
                        {
                            ServiceSteps.Add(($"{s.Groups[1].Value.ToLowerInvariant()}: {part[..space]}", ms));
                        }
                    }
                }
            }
        };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var sw = Stopwatch.StartNew();
        while (!File.Exists($"{dir}/svc/pp.sock"))
        {
            if (p.HasExited || sw.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"portpublisherd did not create its socket within 30 s ({dll})");
            }

            Thread.Sleep(50); // a bench waiting for a file to appear: no event to wait on without inotify plumbing
        }

        return p;
    }

    private static async Task Echo(Socket udp, CancellationToken ct)
    {
        var buffer = new byte[64];
        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                SocketReceiveFromResult r = await udp.ReceiveFromAsync(buffer, SocketFlags.None, any, ct);
                await udp.SendToAsync(buffer.AsMemory(0, r.ReceivedBytes), SocketFlags.None, r.RemoteEndPoint, ct);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    private static async Task<string> Tcp(NetworkNamespace from, string ip, int port)
    {
        using Socket s = from.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        using var cts = new CancellationTokenSource(2000);
        try
        {
            await s.ConnectAsync(new IPEndPoint(IPAddress.Parse(ip), port), cts.Token);
            return await s.ReceiveAsync(new byte[1], SocketFlags.None, cts.Token) == 1 ? "yes" : "no";
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return "no";
        }
    }

    private static async Task<string> Udp(NetworkNamespace from, string ip, int port)
    {
        using Socket s = from.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp));
        using var cts = new CancellationTokenSource(2000);
        try
        {
            await s.SendToAsync(Encoding.ASCII.GetBytes("x"), new IPEndPoint(IPAddress.Parse(ip), port));
            return await s.ReceiveAsync(new byte[8], SocketFlags.None, cts.Token) > 0 ? "yes" : "no";
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return "no";
        }
    }

    private static string Not(string reached) => reached == "yes" ? "NO (reachable)" : "yes";

    private static async Task<double> ConnectionsPerSecond(NetworkNamespace client, ushort port, int connections)
    {
        var ep = new IPEndPoint(IPAddress.Parse("192.0.2.1"), port);
        var buffer = new byte[1];
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < connections; i++)
        {
            using Socket s = client.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            await s.ConnectAsync(ep);
            if (await s.ReceiveAsync(buffer) != 1)
            {
                throw new InvalidOperationException($"no byte through the published port {port}");
            }
        }

        return connections / sw.Elapsed.TotalSeconds;
    }

    private static double Percentile(List<double> xs, double p)
    {
        List<double> sorted = [.. xs.Order()];
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }

    private static string FindRepoRoot()
    {
        var d = new DirectoryInfo(AppContext.BaseDirectory);
        while (d is not null && !File.Exists(Path.Combine(d.FullName, "PortPublisher.sln")))
        {
            d = d.Parent;
        }

        return d?.FullName ?? Directory.GetCurrentDirectory();
    }
}
