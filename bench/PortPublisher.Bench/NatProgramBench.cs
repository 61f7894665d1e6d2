using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Programming N bindings in one transaction: our codec vs `nft -f` loading the same map elements (one process,
/// one transaction) vs one `nft add element` per binding. Interleaved rounds in one throwaway namespace; medians.
/// </summary>
internal static class NatProgramBench
{
    public static void Run(int rounds, int[] sizes, int perElementLimit)
    {
        string ns = $"ppbench{Environment.ProcessId % 100000}";
        Sh($"ip netns add {ns}");
        string dir = Directory.CreateTempSubdirectory("ppbench-").FullName;
        try
        {
            using NetworkNamespace handle = NetworkNamespace.Open(ns);
            using var backend = new NftablesBackend(handle);
            double baseline = Median([.. Enumerable.Range(0, 5).Select(_ => TimeMs($"ip netns exec {ns} true"))]);
            Console.WriteLine($"# ip netns exec {ns} true (process start + setns, included in the nft columns): {baseline:F1} ms");
            Console.WriteLine("| bindings | ours, one transaction (ms) | nft -f, one transaction (ms) | nft -f / ours | one `nft add element` per binding (ms) | bytes sent by ours | messages |");
            Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (int n in sizes)
            {
                NatBinding[] bindings = [.. Enumerable.Range(0, n).Select(i => new NatBinding(IPAddress.Parse("192.0.2.1"), Protocol.Tcp, (ushort)(10000 + i), IPAddress.Parse("10.99.0.2"), (ushort)(10000 + i)))];
                string file = Path.Combine(dir, $"elements-{n}.nft");
                File.WriteAllText(file, NftFile(bindings));
                var ours = new List<double>();
                var nftFile = new List<double>();
                (int Bytes, int Messages) sent = default;
                for (int r = 0; r < rounds; r++)
                {
                    backend.InstallOrReplace([]);
                    var sw = Stopwatch.StartNew();
                    backend.Apply(bindings, []);
                    ours.Add(sw.Elapsed.TotalMilliseconds);
                    sent = backend.LastTransaction;
                    Check(backend, n);

                    backend.InstallOrReplace([]);
                    nftFile.Add(TimeMs($"ip netns exec {ns} nft -f {file}"));
                    Check(backend, n);
                }

                string perElement = "n/a";
                if (n <= perElementLimit)
                {
                    backend.InstallOrReplace([]);
                    string script = Path.Combine(dir, $"each-{n}.sh");
                    File.WriteAllLines(script, bindings.Select(b => $"nft add element ip portpublisher published '{{ {b.HostIp} . tcp . {b.HostPort} : {b.TargetIp} . {b.TargetPort} }}'"));
                    perElement = TimeMs($"ip netns exec {ns} sh {script}").ToString("F0", CultureInfo.InvariantCulture);
                    Check(backend, n);
                }

                double mo = Median(ours), mn = Median(nftFile);
                Console.WriteLine($"| {n:N0} | {mo:F2} | {mn:F2} | {mn / mo:F1}x | {perElement} | {sent.Bytes:N0} | {sent.Messages} |");
            }
        }
        finally
        {
            Sh($"ip netns del {ns}");
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Check(NftablesBackend backend, int n)
    {
        int have = backend.ReadBindings().Count;
        if (have != n)
        {
            throw new InvalidOperationException($"expected {n} bindings, the kernel holds {have}");
        }
    }

    private static string NftFile(NatBinding[] bindings)
    {
        var sb = new StringBuilder("add element ip portpublisher published {\n");
        foreach (NatBinding b in bindings)
        {
            sb.Append(CultureInfo.InvariantCulture, $"  {b.HostIp} . tcp . {b.HostPort} : {b.TargetIp} . {b.TargetPort},\n");
        }

        return sb.Append("}\n").ToString();
    }
}
