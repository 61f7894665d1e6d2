using System.Globalization;
using System.Text.Json;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// The load generators of the service comparison, each run in the client namespace under a deadline (`timeout`, and
/// <see cref="Shell.Sh(string, TimeSpan)"/> killing the tree), with their outputs parsed into numbers.
/// </summary>
internal static class LoadTools
{
    /// <summary>Slack on top of a run's own duration before it counts as wedged.</summary>
    private const int Slack = 20;

    /// <summary>Datagram size of the UDP bulk test: small, so the rate is datagrams, not bytes.</summary>
    public const int UdpBulkSize = 256;

    /// <summary>TCP throughput (bits/s, bytes received). A run that fails restarts the iperf3 server and is tried once more.</summary>
    public static (double Bps, double Bytes) Iperf(BenchTopology t, string host, int port, int streams, int seconds)
    {
        JsonDocument d = IperfRetrying(t, $"-c {host} -p {port} -t {seconds} -P {streams}", seconds);
        using (d)
        {
            JsonElement sum = d.RootElement.GetProperty("end").GetProperty("sum_received");
            return (sum.GetProperty("bits_per_second").GetDouble(), sum.GetProperty("bytes").GetDouble());
        }
    }

    /// <summary>
    /// UDP datagrams per second that reached the iperf3 server (sent as fast as iperf3 can, <see cref="UdpBulkSize"/>
    /// bytes each), and how many reached it in all.
    /// </summary>
    public static (double Rate, double Datagrams) IperfUdp(BenchTopology t, string host, int port, int seconds, bool reverse = false)
    {
        JsonDocument d = IperfRetrying(t, $"-c {host} -p {port} -t {seconds} -u -b 0 -l {UdpBulkSize}{(reverse ? " -R" : string.Empty)}", seconds);
        using (d)
        {
            JsonElement sum = d.RootElement.GetProperty("end").GetProperty("sum_received");
            double datagrams = sum.GetProperty("bytes").GetDouble() / UdpBulkSize;
            return (datagrams / sum.GetProperty("seconds").GetDouble(), datagrams);
        }
    }

    /// <summary>
    /// wrk: <paramref name="connections"/> connections on <paramref name="threads"/> threads; with <paramref name="close"/>
    /// every request carries "Connection: close", so each is a connection of its own (connect, GET, close).
    /// </summary>
    public static (double Rate, double Requests) Wrk(string clientNs, string url, int threads, int connections, int seconds, bool close)
    {
        string output = Sh($"ip netns exec {clientNs} timeout -k 2 {seconds + Slack} wrk -t{threads} -c{connections} -d{seconds}s {(close ? "-H 'Connection: close' " : string.Empty)}{url}", TimeSpan.FromSeconds(seconds + Slack + 5));
        double rate = double.NaN, requests = double.NaN;
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("Requests/sec:", StringComparison.Ordinal))
            {
                rate = double.Parse(line["Requests/sec:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
            else if (line.Contains("requests in", StringComparison.Ordinal))
            {
                requests = double.Parse(line.Split(' ')[0], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Socket errors", StringComparison.Ordinal) || line.StartsWith("Non-2xx", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"wrk {url}: {line}");
            }
        }

        if (double.IsNaN(rate) || double.IsNaN(requests) || requests == 0)
        {
            throw new InvalidOperationException($"wrk {url} reported no requests: {output}");
        }

        return (rate, requests);
    }

    /// <summary>DNS-style request/response: dnsperf's completed queries per second (16 client sockets, 64 queries in flight), and how many completed.</summary>
    public static (double Rate, double Queries) Dnsperf(BenchTopology t, string host, int port, int seconds)
    {
        string output = Sh($"ip netns exec {t.Client} timeout -k 2 {seconds + Slack} dnsperf -s {host} -p {port} -d {t.QueryFile} -l {seconds} -c 16 -q 64 -t 1", TimeSpan.FromSeconds(seconds + Slack + 5));
        double rate = double.NaN, completed = double.NaN;
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            if (line.StartsWith("Queries per second:", StringComparison.Ordinal))
            {
                rate = double.Parse(line["Queries per second:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Queries completed:", StringComparison.Ordinal))
            {
                completed = double.Parse(line["Queries completed:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Queries lost:", StringComparison.Ordinal) && !line["Queries lost:".Length..].TrimStart().StartsWith("0 ", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"dnsperf via {host}:{port}: {line}"); // each lost query holds one of the 64 in flight for the 1 s timeout
            }
        }

        if (double.IsNaN(rate) || double.IsNaN(completed) || completed == 0)
        {
            throw new InvalidOperationException($"dnsperf via {host}:{port} completed no queries: {output}");
        }

        return (rate, completed);
    }

    private static JsonDocument IperfRetrying(BenchTopology t, string args, int seconds)
    {
        try
        {
            return IperfOnce(t, args, seconds);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine($"iperf3 {args} failed ({e.Message.Split('\n')[0]}); restarting the server and retrying once");
            t.RestartIperf();
            return IperfOnce(t, args, seconds);
        }
    }

    private static JsonDocument IperfOnce(BenchTopology t, string args, int seconds)
    {
        string json = Sh($"ip netns exec {t.Client} timeout -k 2 {seconds + Slack} iperf3 {args} -J", TimeSpan.FromSeconds(seconds + Slack + 5));
        JsonDocument d = JsonDocument.Parse(json);
        if (d.RootElement.TryGetProperty("error", out JsonElement error))
        {
            d.Dispose();
            throw new InvalidOperationException($"iperf3 {args}: {error.GetString()}");
        }

        return d;
    }
}
