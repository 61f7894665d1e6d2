using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Per-connection cost through a published port with 1 binding and with 10,000: the maps are hash lookups, so the
/// cost must not grow with the number of bindings. Client netns → host netns (DNAT) → container netns.
/// </summary>
internal static class ConnectionCostBench
{
    public static async Task Run(int connections, int rounds)
    {
        string id = $"ppcc{Environment.ProcessId % 100000}";
        string h = $"{id}h", c = $"{id}c", x = $"{id}x";
        try
        {
            foreach (string ns in new[] { h, c, x })
            {
                Sh($"ip netns add {ns}");
                Sh($"ip -n {ns} link set lo up");
            }

            Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
            Sh($"ip -n {h} link add vx0 type veth peer name vx1 netns {x}");
            Sh($"ip -n {h} addr add 10.99.0.1/24 dev vh0 && ip -n {h} addr add 192.0.2.1/24 dev vx0 && ip -n {h} link set vh0 up && ip -n {h} link set vx0 up");
            Sh($"ip -n {c} addr add 10.99.0.2/24 dev vc0 && ip -n {c} link set vc0 up && ip -n {c} route add default via 10.99.0.1");
            Sh($"ip -n {x} addr add 192.0.2.2/24 dev vx1 && ip -n {x} link set vx1 up && ip -n {x} route add default via 192.0.2.1");
            Sh($"ip netns exec {h} sysctl -qw net.ipv4.ip_forward=1");

            using NetworkNamespace host = NetworkNamespace.Open(h), ctr = NetworkNamespace.Open(c), client = NetworkNamespace.Open(x);
            using var backend = new NftablesBackend(host);
            using var cts = new CancellationTokenSource();
            using Socket listener = OneByteServer.Start(ctr, new IPEndPoint(IPAddress.Parse("10.99.0.2"), 80), 1024, cts.Token);

            var target = new NatBinding(IPAddress.Parse("192.0.2.1"), Protocol.Tcp, 30000, IPAddress.Parse("10.99.0.2"), 80);
            NatBinding[] many = [target, .. Enumerable.Range(0, 9999).Select(i => new NatBinding(IPAddress.Parse("192.0.2.1"), Protocol.Tcp, (ushort)(40000 + i), IPAddress.Parse("10.99.0.2"), 80))];
            Console.WriteLine($"| bindings in the map | median µs per connection (connect + 1 byte + close, {connections} sequential, median of {rounds} rounds) |");
            Console.WriteLine("| ---: | ---: |");
            var results = new Dictionary<int, List<double>> { [1] = [], [10000] = [] };
            for (int r = 0; r < rounds; r++)
            {
                foreach ((int n, NatBinding[] set) in new[] { (1, new[] { target }), (10000, many) })
                {
                    backend.InstallOrReplace(set);
                    results[n].Add(await Measure(client, connections));
                }
            }

            foreach ((int n, List<double> xs) in results)
            {
                Console.WriteLine($"| {n:N0} | {Median(xs):F1} |");
            }

            await cts.CancelAsync();
        }
        finally
        {
            foreach (string ns in new[] { h, c, x })
            {
                try
                {
                    Sh($"ip netns del {ns}");
                }
                catch (InvalidOperationException)
                {
                }
            }
        }
    }

    private static async Task<double> Measure(NetworkNamespace client, int connections)
    {
        var ep = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 30000);
        var buffer = new byte[1];
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < connections; i++)
        {
            using Socket s = client.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            await s.ConnectAsync(ep);
            if (await s.ReceiveAsync(buffer) != 1)
            {
                throw new InvalidOperationException("no byte through the published port");
            }
        }

        return sw.Elapsed.TotalMicroseconds / connections;
    }
}
