using System.Diagnostics;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Three throwaway namespaces joined by veths: client (192.0.2.2) → host (192.0.2.1, and 10.99.0.1 towards the
/// container, forwarding on) → container (10.99.0.2), with the container's backends: iperf3 on 5201 (TCP and UDP),
/// nginx with one worker serving a 100-byte file on 7000, dnsmasq answering one name on 53/udp. Each peer of a
/// comparison gets a topology of its own, so no peer's netfilter state (conntrack, chains) touches another's traffic.
/// Everything started here is killed, and the namespaces deleted, on dispose, whatever state the run ended in.
/// </summary>
internal sealed class BenchTopology : IDisposable
{
    public const string HostAddress = "192.0.2.1";
    public const string ContainerAddress = "10.99.0.2";
    public const int IperfPort = 5201;
    public const int HttpPort = 7000;
    public const int DnsPort = 53;

    /// <summary>The name dnsmasq answers (one A record, from memory: no upstream, no cache involved).</summary>
    public const string DnsName = "bench.test";

    private static readonly TimeSpan SetupTimeout = TimeSpan.FromSeconds(30);
    private readonly List<Process> _processes = [];
    private readonly string _dir;
    private Process? _iperf;
    private bool _created;

    private BenchTopology(string prefix)
    {
        Host = $"{prefix}h";
        Container = $"{prefix}c";
        Client = $"{prefix}x";
        _dir = Directory.CreateTempSubdirectory($"{prefix}-").FullName;
    }

    public string Host { get; }

    public string Container { get; }

    public string Client { get; }

    /// <summary>A directory of this topology's own (configs, pid files), removed on dispose.</summary>
    public string Dir => _dir;

    /// <summary>Creates the namespaces and links and (unless told not to) starts the container's backends.</summary>
    public static BenchTopology Create(string prefix, bool backends = true)
    {
        var t = new BenchTopology(prefix);
        try
        {
            t.Build();
            if (backends)
            {
                t.StartBackends();
            }

            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Starts <paramref name="command"/> in namespace <paramref name="ns"/>; it is killed on dispose.</summary>
    public Process Start(string ns, string command, bool stdin = false)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"exec ip netns exec {ns} {command}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin,
        };
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        lock (_processes)
        {
            _processes.Add(p);
        }

        return p;
    }

    /// <summary>
    /// iperf3 3.12's server can wedge after a test (a finished control connection left in CLOSE-WAIT, no more
    /// accepts): a client run that fails restarts it.
    /// </summary>
    public void RestartIperf()
    {
        if (_iperf is { } old)
        {
            Kill(old);
        }

        _iperf = Start(Container, $"iperf3 -s -p {IperfPort}");
        WaitForTcp(Container, ContainerAddress, IperfPort);
    }

    public void Dispose()
    {
        Process[] all;
        lock (_processes)
        {
            all = [.. _processes];
            _processes.Clear();
        }

        foreach (Process p in all)
        {
            Kill(p);
        }

        if (_created)
        {
            foreach (string ns in new[] { Host, Container, Client })
            {
                try
                {
                    Sh($"ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}", SetupTimeout);
                }
                catch (InvalidOperationException e)
                {
                    Console.Error.WriteLine($"cleanup of {ns}: {e.Message}");
                }
            }
        }

        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Waits (up to 20 s) until something listens on <paramref name="address"/>:<paramref name="port"/> in <paramref name="ns"/>.</summary>
    public static void WaitForTcp(string ns, string address, int port)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            string listening = Sh($"ip netns exec {ns} ss -Hltn 'sport = :{port}'", SetupTimeout);
            if (listening.Contains(address, StringComparison.Ordinal) || listening.Contains("0.0.0.0", StringComparison.Ordinal) || listening.Contains('*', StringComparison.Ordinal))
            {
                return;
            }

            Thread.Sleep(100);
        }

        throw new InvalidOperationException($"nothing listens on {address}:{port} in {ns} after 20 s");
    }

    private static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }

    private void Build()
    {
        foreach (string ns in new[] { Host, Container, Client })
        {
            Sh($"ip netns add {ns}", SetupTimeout);
            _created = true;
            Sh($"ip -n {ns} link set lo up", SetupTimeout);
        }

        Sh($"ip -n {Host} link add vh0 type veth peer name vc0 netns {Container}", SetupTimeout);
        Sh($"ip -n {Host} link add vx0 type veth peer name vx1 netns {Client}", SetupTimeout);
        Sh($"ip -n {Host} addr add 10.99.0.1/24 dev vh0 && ip -n {Host} addr add {HostAddress}/24 dev vx0 && ip -n {Host} link set vh0 up && ip -n {Host} link set vx0 up", SetupTimeout);
        Sh($"ip -n {Container} addr add {ContainerAddress}/24 dev vc0 && ip -n {Container} link set vc0 up && ip -n {Container} route add default via 10.99.0.1", SetupTimeout);
        Sh($"ip -n {Client} addr add 192.0.2.2/24 dev vx1 && ip -n {Client} link set vx1 up && ip -n {Client} route add default via {HostAddress}", SetupTimeout);

        // Forwarding for the direct and NAT paths; backlogs deep enough that the short-connection tests never overflow them.
        Sh($"ip netns exec {Host} sysctl -qw net.ipv4.ip_forward=1 net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096", SetupTimeout);
        Sh($"ip netns exec {Container} sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096", SetupTimeout);
    }

    private void StartBackends()
    {
        RestartIperf();

        // nginx as in the issue: one worker, a 100-byte file. Idle connections are held for 300 s (the idle-memory test).
        string www = Path.Combine(_dir, "www");
        Directory.CreateDirectory(www);
        File.WriteAllText(Path.Combine(www, "f"), new string('x', 100));
        string conf = Path.Combine(_dir, "nginx.conf");
        File.WriteAllText(conf,
            $"worker_processes 1; worker_rlimit_nofile 16384; daemon off; pid {_dir}/nginx.pid; error_log {_dir}/nginx-error.log;\n" +
            "events { worker_connections 16384; }\n" +
            $"http {{ access_log off; keepalive_requests 1000000; client_header_timeout 300s; client_body_temp_path {_dir}; proxy_temp_path {_dir}; fastcgi_temp_path {_dir}; uwsgi_temp_path {_dir}; scgi_temp_path {_dir};\n" +
            $"  server {{ listen {ContainerAddress}:{HttpPort} backlog=4096; root {www}; location / {{ }} }} }}\n");
        Start(Container, $"nginx -c {conf} -p {_dir}");
        WaitForTcp(Container, ContainerAddress, HttpPort);

        // dnsmasq answering one name from memory: the DNS-style request/response backend.
        Start(Container, $"dnsmasq -k --user=root --port={DnsPort} --listen-address={ContainerAddress} --bind-interfaces --no-resolv --no-hosts --pid-file= --log-facility={_dir}/dnsmasq.log --address=/{DnsName}/192.0.2.77");
        File.WriteAllText(QueryFile, $"{DnsName} A\n");
        var sw = Stopwatch.StartNew();
        while (!Sh($"ip netns exec {Container} ss -Hlun 'sport = :{DnsPort}'", SetupTimeout).Contains(ContainerAddress, StringComparison.Ordinal))
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20))
            {
                throw new InvalidOperationException($"dnsmasq did not start in {Container}");
            }

            Thread.Sleep(100);
        }
    }

    /// <summary>dnsperf's input: the one name dnsmasq answers.</summary>
    public string QueryFile => Path.Combine(_dir, "queries.txt");
}
