using System.Diagnostics;
using System.Globalization;
using System.Text;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// <c>-p 20000-29999:20000-29999</c> end to end: CLI → portpublisherd → one nftables transaction, in a throwaway host
/// namespace, against a dual-stack container (so all 20,000 bindings are NAT). Reports wall time, the service's RSS
/// growth and processes started; and `nft -f` loading the same 20,000 elements, side by side.
/// </summary>
internal static class PublishRangeBench
{
    /// <param name="spec">The -p value; the default is IPv4 only because each binding holds a socket and this sandbox's
    /// hard RLIMIT_NOFILE is 20,000 (the unit sets LimitNOFILE=1048576; here it cannot be raised).</param>
    public static void Run(string configuration, int rounds, string spec = "0.0.0.0:20000-29999:20000-29999")
    {
        bool bothFamilies = !spec.StartsWith("0.0.0.0:", StringComparison.Ordinal);
        int expected = bothFamilies ? 20000 : 10000;
        string root = FindRoot();
        string daemon = Path.Combine(root, "src", "PortPublisher.Service", "bin", configuration, "net10.0", "portpublisherd.dll");
        string cli = Path.Combine(root, "src", "PortPublisher.Cli", "bin", configuration, "net10.0", "portpublisher.dll");
        string id = $"pprb{Environment.ProcessId % 100000}";
        string h = $"{id}h", c = $"{id}c", o = $"{id}o";
        string dir = Directory.CreateTempSubdirectory("pprb-").FullName;
        Process? service = null;
        try
        {
            foreach (string ns in new[] { h, c, o })
            {
                Sh($"ip netns add {ns} && ip -n {ns} link set lo up && ip netns exec {ns} sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
            }

            Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
            Sh($"ip -n {h} addr add 10.99.0.1/24 dev vh0 && ip -n {h} addr add fd00:99::1/64 dev vh0 nodad && ip -n {h} link set vh0 up");
            Sh($"ip -n {c} addr add 10.99.0.2/24 dev vc0 && ip -n {c} addr add fd00:99::2/64 dev vc0 nodad && ip -n {c} link set vc0 up");
            string sock = Path.Combine(dir, "pp.sock");
            service = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", h, "dotnet", daemon, "--socket", sock, "--state-dir", Path.Combine(dir, "state"), "--metrics", ""])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var serviceMs = new List<double>();
            service.OutputDataReceived += (_, e) =>
            {
                System.Text.RegularExpressions.Match m = System.Text.RegularExpressions.Regex.Match(e.Data ?? string.Empty, @"Published range in \S+: \d+ bindings in ([\d.]+) ms");
                if (m.Success)
                {
                    lock (serviceMs)
                    {
                        serviceMs.Add(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
                    }
                }
            };
            service.ErrorDataReceived += (_, _) => { };
            service.BeginOutputReadLine();
            service.BeginErrorReadLine();
            var sw = Stopwatch.StartNew();
            while (!File.Exists(sock) && sw.Elapsed < TimeSpan.FromSeconds(20))
            {
                Thread.Sleep(50);
            }

            Thread.Sleep(500);
            string pp = $"dotnet {cli} -H unix://{sock}";
            double cliAlone = Median([.. Enumerable.Range(0, 3).Select(_ => TimeMs($"{pp} ls"))]);

            // The same elements for nft -f: our tables installed in another namespace by nft itself, then the elements.
            var nftFile = new StringBuilder();
            nftFile.Append("add element ip portpublisher published_any {\n");
            for (int p = 20000; p <= 29999; p++)
            {
                nftFile.Append(CultureInfo.InvariantCulture, $"  tcp . {p} : 10.99.0.2 . {p},\n");
            }

            nftFile.Append("}\n");
            if (bothFamilies)
            {
                nftFile.Append("add element ip6 portpublisher published_any {\n");
                for (int p = 20000; p <= 29999; p++)
                {
                    nftFile.Append(CultureInfo.InvariantCulture, $"  tcp . {p} : fd00:99::2 . {p},\n");
                }

                nftFile.Append("}\n");
            }
            string elements = Path.Combine(dir, "elements.nft");
            File.WriteAllText(elements, nftFile.ToString());
            string tables = Path.Combine(root, "tests", "PortPublisher.Netlink.Tests", "TestData", "expected-ruleset.nft");

            var publish = new List<double>();
            var unpublish = new List<double>();
            var nft = new List<double>();
            long rssBefore = 0, rssAfter = 0;
            int processes = 0;
            for (int r = 0; r < rounds; r++)
            {
                rssBefore = ProcessStats.RssBytes(service.Id);
                publish.Add(TimeMs($"{pp} publish range --netns {c} -p {spec} > /dev/null"));
                rssAfter = ProcessStats.RssBytes(service.Id);
                processes = ProcessStats.Count(service.Id);
                int elementsIn = Sh($"ip netns exec {h} nft -j list map ip portpublisher published_any").Split("\"concat\"").Length - 1
                                 + Sh($"ip netns exec {h} nft -j list map ip6 portpublisher published_any").Split("\"concat\"").Length - 1;
                if (elementsIn < 2 * expected)
                {
                    throw new InvalidOperationException($"expected {expected} elements ({2 * expected} concat nodes), saw {elementsIn} nodes");
                }

                unpublish.Add(TimeMs($"{pp} unpublish range > /dev/null"));

                Sh($"ip netns exec {o} nft flush ruleset && ip netns exec {o} nft -f {tables} && ip netns exec {o} nft flush map ip portpublisher published_any && ip netns exec {o} nft flush map ip6 portpublisher published_any");
                nft.Add(TimeMs($"ip netns exec {o} nft -f {elements}"));
            }

            Console.WriteLine($"# `{pp} ls` alone (CLI process start + one request): {cliAlone:F0} ms");
            Console.WriteLine("| step | median ms |");
            Console.WriteLine("| --- | ---: |");
            Console.WriteLine($"| `portpublisher publish range -p {spec}` ({expected:N0} NAT bindings, CLI → service → kernel) | {Median(publish):F0} |");
            Console.WriteLine($"| … of which inside the service (parse, allocate, reserve, persist, transaction) | {(serviceMs.Count > 0 ? Median(serviceMs) : double.NaN):F0} |");
            Console.WriteLine($"| `portpublisher unpublish range` | {Median(unpublish):F0} |");
            Console.WriteLine($"| `nft -f` of the same {expected:N0} map elements (process included) | {Median(nft):F0} |");
            Console.WriteLine();
            Console.WriteLine($"service RSS growth while the range is published: {(rssAfter - rssBefore) / 1048576.0:F1} MiB (last round); processes in the service's tree: {processes} (docker starts one docker-proxy per port and family: {expected:N0})");
        }
        finally
        {
            if (service is not null && !service.HasExited)
            {
                service.Kill(entireProcessTree: true);
                service.WaitForExit();
            }

            foreach (string ns in new[] { h, c, o })
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
