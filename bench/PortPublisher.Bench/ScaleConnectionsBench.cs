using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Issue 13, goal 5: what one connection costs through the real portpublisherd when many other bindings exist. NAT:
/// one published port alone, then beside a 10,000-port NAT range (20,000 map elements and 10,000 loopback listeners);
/// proxy: one proxied port alone, then beside 1,000 proxied listeners. Connections (connect, read one byte, close) go
/// from the host namespace to its own veth address, which the output chain DNATs (NAT) or the listener takes (proxy),
/// to a server in the container namespace. Rounds interleave "alone" and "among many".
/// </summary>
internal static class ScaleConnectionsBench
{
    // Every port below the ephemeral range (32768-): the measured connections leave TIME_WAIT sockets on ports there,
    // which a reservation cannot bind.
    private const int ServerPort = 20500;

    public static async Task Run(string configuration, int connections, int rounds, int nofile)
    {
        using var lab = new ScaleLab(configuration, nofile);
        lab.StartService();
        using NetworkNamespace host = NetworkNamespace.Open(lab.Host), container = NetworkNamespace.Open(lab.Container);
        using var cts = new CancellationTokenSource();
        using Socket listener = OneByteServer.Start(container, new IPEndPoint(IPAddress.Parse(ScaleLab.ContainerV4), ServerPort), 4096, cts.Token);

        _ = lab.Cli($"publish nat1 --netns {lab.Container} --mode nat -p 20501:20500");
        _ = lab.Cli($"publish proxy1 --netns {lab.Container} --mode proxy -p 20503:20500");
        var results = new Dictionary<string, List<double>> { ["nat alone"] = [], ["nat among"] = [], ["proxy alone"] = [], ["proxy among"] = [] };
        for (int r = 0; r < rounds; r++)
        {
            results["nat alone"].Add(await Measure(host, 20501, connections));
            results["proxy alone"].Add(await Measure(host, 20503, connections));
            _ = lab.Cli($"publish many-nat --netns {lab.Container} --mode nat -p 10000-19999:10000-19999");
            results["nat among"].Add(await Measure(host, 20501, connections));
            _ = lab.Cli("unpublish many-nat");
            _ = lab.Cli($"publish many-proxy --netns {lab.Container} --mode proxy -p 21000-21999:21000-21999");
            results["proxy among"].Add(await Measure(host, 20503, connections));
            _ = lab.Cli("unpublish many-proxy");
        }

        await cts.CancelAsync();
        Console.WriteLine($"# scale-conns: {connections:N0} sequential connections (connect, 1 byte, close) per measurement, {rounds} interleaved rounds, medians");
        Console.WriteLine();
        Console.WriteLine("| path | alone (µs per connection) | among many (µs per connection) | ratio |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        Console.WriteLine($"| NAT, beside a 10,000-port NAT range | {Median(results["nat alone"]):F1} | {Median(results["nat among"]):F1} | {Median(results["nat among"]) / Median(results["nat alone"]):F2} |");
        Console.WriteLine($"| proxy, beside 1,000 proxied listeners | {Median(results["proxy alone"]):F1} | {Median(results["proxy among"]):F1} | {Median(results["proxy among"]) / Median(results["proxy alone"]):F2} |");
    }

    private static async Task<double> Measure(NetworkNamespace client, int port, int connections)
    {
        var ep = new IPEndPoint(IPAddress.Parse("10.99.0.1"), port);
        var buffer = new byte[1];
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < connections; i++)
        {
            using Socket s = client.Run(() => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await s.ConnectAsync(ep, deadline.Token);
            if (await s.ReceiveAsync(buffer, deadline.Token) != 1)
            {
                throw new InvalidOperationException($"no byte through published port {port}");
            }
        }

        return sw.Elapsed.TotalMicroseconds / connections;
    }
}
