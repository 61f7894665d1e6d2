using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using PortPublisher.Proxy;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// What a ruleset costs each forwarded packet, measured so that a busy machine hardly disturbs it: a client sends
/// bursts of small UDP datagrams through the host's DNAT to the container, and the time per datagram of the fastest
/// burst is kept (a burst nothing preempted; on veths the whole forwarding path runs inside the sender's send call).
/// Variants of the host's rules, interleaved: none (direct routing), a one-rule nft map, the ruleset our backend
/// installs, and that ruleset with the guard and hairpin rules as they were before issue 14. Each datagram flow is
/// replied to once first (so conntrack calls it established), or not at all ("one-way": conntrack calls every packet
/// of it new).
/// </summary>
internal static class NatPacketCostBench
{
    private const int TargetPort = 7777;
    private const int HostPort = 9005;

    public static async Task Run(int rounds, int bursts, int burst)
    {
        string id = $"ppnc{Environment.ProcessId % 10000}";
        using BenchTopology t = BenchTopology.Create(id, backends: false);
        using NetworkNamespace host = NetworkNamespace.Open(t.Host), ctr = NetworkNamespace.Open(t.Container), client = NetworkNamespace.Open(t.Client);
        using var ctrSockets = new NamespaceSocketFactory(ctr);
        using var clientSockets = new NamespaceSocketFactory(client);
        using var cts = new CancellationTokenSource();
        Thread receiver = Receiver(ctrSockets, cts.Token);
        var target = IPAddress.Parse(BenchTopology.ContainerAddress);
        (string Name, string To, bool OneWay, Action Install)[] variants =
        [
            ("direct routing (no rules)", BenchTopology.ContainerAddress, false, () => Flush(t)),
            ("one-rule nft map", BenchTopology.HostAddress, false, () => NftMap(t)),
            ("ours (NftablesBackend)", BenchTopology.HostAddress, false, () => Ours(t, host, target, null)),
            ("ours, guard and hairpin before issue 14", BenchTopology.HostAddress, false, () => Ours(t, host, target, Before)),
            ("ours without the guard chain", BenchTopology.HostAddress, false, () => Ours(t, host, target, NoGuard)),
            ("ours without the guard and hairpin chains", BenchTopology.HostAddress, false, () => Ours(t, host, target, NoGuardNoHairpin)),
            ("one-way flow: one-rule nft map", BenchTopology.HostAddress, true, () => NftMap(t)),
            ("one-way flow: ours", BenchTopology.HostAddress, true, () => Ours(t, host, target, null)),
            ("one-way flow: ours before issue 14", BenchTopology.HostAddress, true, () => Ours(t, host, target, Before)),
        ];
        var results = variants.ToDictionary(v => v.Name, _ => new List<double>());
        try
        {
            for (int r = 0; r < rounds; r++)
            {
                foreach ((string name, string to, bool oneWay, Action install) in variants)
                {
                    install();
                    int port = to == BenchTopology.ContainerAddress ? TargetPort : HostPort;
                    results[name].Add(await Measure(clientSockets, new IPEndPoint(IPAddress.Parse(to), port), oneWay, bursts, burst));
                }
            }
        }
        finally
        {
            await cts.CancelAsync();
            receiver.Join(TimeSpan.FromSeconds(5));
        }

        double map = Median([.. results["one-rule nft map"]]), mapOneWay = Median([.. results["one-way flow: one-rule nft map"]]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"Fastest of {bursts} bursts of {burst} 64-byte datagrams, median over {rounds} interleaved rounds:"));
        Console.WriteLine();
        Console.WriteLine("| host's rules | ns per datagram | over the one-rule map |");
        Console.WriteLine("| --- | ---: | ---: |");
        foreach ((string name, _, bool oneWay, _) in variants)
        {
            double m = Median([.. results[name]]);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {m:F0} | {m - (oneWay ? mapOneWay : map):+0;-0;0} ns |"));
        }
    }

    /// <summary>Answers "hello" (so the flow's conntrack sees a reply) and otherwise drains its small queue every 20 ms.</summary>
    private static Thread Receiver(NamespaceSocketFactory sockets, CancellationToken ct)
    {
        Socket s = sockets.Create(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.ReceiveBufferSize = 4096; // full most of the time: further datagrams are dropped at the socket, equally for every variant
        s.Bind(new IPEndPoint(IPAddress.Parse(BenchTopology.ContainerAddress), TargetPort));
        s.Blocking = false;
        var thread = new Thread(() =>
        {
            var buffer = new byte[64];
            EndPoint from = new IPEndPoint(IPAddress.Any, 0);
            while (!ct.IsCancellationRequested)
            {
                while (s.Available > 0)
                {
                    int n = s.ReceiveFrom(buffer, ref from);
                    if (n == 5 && buffer.AsSpan(0, 5).SequenceEqual("hello"u8))
                    {
                        s.SendTo("hi"u8, from);
                    }
                }

                Thread.Sleep(20);
            }

            s.Dispose();
        }) { IsBackground = true, Name = "nat-packet-cost receiver" };
        thread.Start();
        return thread;
    }

    private static async Task<double> Measure(NamespaceSocketFactory sockets, IPEndPoint to, bool oneWay, int bursts, int burst)
    {
        using Socket s = sockets.Create(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Connect(to);
        if (!oneWay)
        {
            var reply = new byte[16];
            bool answered = false;
            for (int i = 0; i < 100 && !answered; i++)
            {
                s.Send("hello"u8);
                using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
                try
                {
                    answered = await s.ReceiveAsync(reply, SocketFlags.None, wait.Token) > 0;
                }
                catch (OperationCanceledException)
                {
                }
            }

            if (!answered)
            {
                throw new InvalidOperationException($"no reply through {to}");
            }
        }

        byte[] payload = new byte[64];
        double best = double.MaxValue;
        var sw = new Stopwatch();
        for (int b = 0; b < bursts; b++)
        {
            sw.Restart();
            for (int i = 0; i < burst; i++)
            {
                s.Send(payload);
            }

            best = Math.Min(best, sw.Elapsed.TotalNanoseconds / burst);
        }

        return best;
    }

    private static void Flush(BenchTopology t) => Sh($"ip netns exec {t.Host} nft flush ruleset", TimeSpan.FromSeconds(30));

    private static void NftMap(BenchTopology t)
    {
        Flush(t);
        string file = Path.Combine(t.Dir, "map.nft");
        File.WriteAllText(file,
            "table ip ppncmap {\n" +
            $"  map ports {{ type inet_proto . inet_service : ipv4_addr . inet_service; elements = {{ udp . {HostPort} : {BenchTopology.ContainerAddress} . {TargetPort} }} }}\n" +
            "  chain pre { type nat hook prerouting priority dstnat; policy accept; dnat ip to meta l4proto . th dport map @ports; }\n" +
            "}\n");
        Sh($"ip netns exec {t.Host} nft -f {file}", TimeSpan.FromSeconds(30));
    }

    /// <summary>The guard and hairpin rules as they were before issue 14.</summary>
    private const string Before =
        "flush chain ip portpublisher guard\n" +
        "add rule ip portpublisher guard iifname != \"lo\" ip daddr 127.0.0.0/8 counter drop\n" +
        "flush chain ip portpublisher hairpin\n" +
        "add rule ip portpublisher hairpin ct state new ct status dnat fib daddr . iif oif exists ct mark set ct mark | 0x00001000\n";

    private const string NoGuard = "delete chain ip portpublisher guard\n";

    private const string NoGuardNoHairpin = "delete chain ip portpublisher guard\ndelete chain ip portpublisher hairpin\n";

    /// <summary>
    /// Our ruleset as the service installs it (not owned, so that <paramref name="patch"/>, nft commands, can rewrite it).
    /// </summary>
    private static void Ours(BenchTopology t, NetworkNamespace host, IPAddress target, string? patch)
    {
        Flush(t);
        using (var backend = new NftablesBackend(host))
        {
            backend.InstallOrReplace([new NatBinding(null, Protocol.Udp, HostPort, target, TargetPort)]);
        }

        if (patch is not null)
        {
            string file = Path.Combine(t.Dir, "patch.nft");
            File.WriteAllText(file, patch);
            Sh($"ip netns exec {t.Host} nft -f {file}", TimeSpan.FromSeconds(30));
        }
    }
}
