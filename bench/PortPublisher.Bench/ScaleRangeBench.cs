using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using static PortPublisher.Bench.Shell;

namespace PortPublisher.Bench;

/// <summary>
/// Issue 13, goal 2: <c>publish big --netns C --mode nat -p 20000-29999:20000-29999</c> (20,000 NAT bindings: 0.0.0.0
/// and [::] of 10,000 ports, into a dual-stack container) CLI → portpublisherd → kernel, under RLIMIT_NOFILE 20,000,
/// and its unpublish, against <c>nft -f</c> adding (and deleting) the same 20,000 map elements in a scratch copy of our
/// tables in a bench namespace. Rounds interleave the two, so a busy machine slows both alike. The service-side time
/// is the daemon's own log line (parse to reply); its Debug line gives the steps.
/// </summary>
internal static class ScaleRangeBench
{
    public static void Run(string configuration, int rounds, string spec, int nofile)
    {
        using var lab = new ScaleLab(configuration, nofile);
        lab.StartService();
        (int first, int last) = Ports(spec);
        string add = Path.Combine(lab.Dir, "add.nft"), del = Path.Combine(lab.Dir, "delete.nft");
        WriteElements(add, del, first, last);
        string tables = Path.Combine(lab.Root, "tests", "PortPublisher.Netlink.Tests", "TestData", "expected-ruleset.nft");

        var nftAdd = new List<double>();
        var nftDelete = new List<double>();
        var publish = new List<double>();
        var publishService = new List<double>();
        var unpublish = new List<double>();
        var unpublishService = new List<double>();
        var rssGrowth = new List<double>();
        var nftAddCpu = new List<double>();
        var nftDeleteCpu = new List<double>();
        var publishCpu = new List<double>();
        var unpublishCpu = new List<double>();
        string publishSteps = string.Empty, unpublishSteps = string.Empty;
        int descriptorsIdle = lab.Descriptors(), descriptorsPublished = 0;
        double cliAlone = Median([.. Enumerable.Range(0, 3).Select(_ => lab.Cli("ls"))]);
        for (int r = 0; r < rounds; r++)
        {
            Sh($"ip netns exec {lab.Scratch} sh -c 'nft flush ruleset && nft -f {tables} && nft flush map ip portpublisher published_any && nft flush map ip6 portpublisher published_any'");
            double c0 = ScaleLab.ChildrenCpuMs();
            nftAdd.Add(TimeMs($"ip netns exec {lab.Scratch} nft -f {add}"));
            double c1 = ScaleLab.ChildrenCpuMs();
            nftDelete.Add(TimeMs($"ip netns exec {lab.Scratch} nft -f {del}"));
            nftAddCpu.Add(c1 - c0);
            nftDeleteCpu.Add(ScaleLab.ChildrenCpuMs() - c1);

            double rss = lab.RssMiB();
            int from = lab.LogCount;
            double cpu = lab.CpuMs();
            publish.Add(lab.Cli($"publish big --netns {lab.Container} --mode nat -p {spec}"));
            (double ms, publishSteps) = lab.ServiceTime(from, "publish", "big");
            publishCpu.Add(lab.CpuMs() - cpu);
            publishService.Add(ms);
            rssGrowth.Add(lab.RssMiB() - rss);
            descriptorsPublished = lab.Descriptors();
            if (r == 0)
            {
                int elements = CountElements(lab.Host);
                if (elements != 2 * (last - first + 1))
                {
                    throw new InvalidOperationException($"expected {2 * (last - first + 1)} map elements in the host namespace, found {elements}");
                }
            }

            from = lab.LogCount;
            cpu = lab.CpuMs();
            unpublish.Add(lab.Cli("unpublish big"));
            (ms, unpublishSteps) = lab.ServiceTime(from, "unpublish", "big");
            unpublishCpu.Add(lab.CpuMs() - cpu);
            unpublishService.Add(ms);
        }

        int ports = last - first + 1;
        Console.WriteLine($"# scale-range: `-p {spec}` --mode nat into a dual-stack container ({2 * ports:N0} NAT bindings on {ports:N0} ports), RLIMIT_NOFILE {nofile:N0}, {rounds} interleaved rounds, medians");
        Console.WriteLine($"# CLI: `{lab.CliCommand}`; `ls` alone (process start + one request): {cliAlone:F0} ms");
        Console.WriteLine();
        Console.WriteLine("| step | wall ms | / nft -f | CPU ms | CPU / nft -f's |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
        Console.WriteLine($"| `nft -f` adding the same {2 * ports:N0} elements (process included) | {Median(nftAdd):F0} | 1.00 | {Median(nftAddCpu):F0} | 1.00 |");
        Console.WriteLine($"| `portpublisher publish big` (CLI → service → kernel) | {Median(publish):F0} | {Median(publish) / Median(nftAdd):F2} | | |");
        Console.WriteLine($"| … inside the service (CPU: all its threads) | {Median(publishService):F0} | {Median(publishService) / Median(nftAdd):F2} | {Median(publishCpu):F0} | {Median(publishCpu) / Median(nftAddCpu):F2} |");
        Console.WriteLine($"| `nft -f` deleting them | {Median(nftDelete):F0} | 1.00 | {Median(nftDeleteCpu):F0} | 1.00 |");
        Console.WriteLine($"| `portpublisher unpublish big` | {Median(unpublish):F0} | {Median(unpublish) / Median(nftDelete):F2} | | |");
        Console.WriteLine($"| … inside the service (CPU: all its threads) | {Median(unpublishService):F0} | {Median(unpublishService) / Median(nftDelete):F2} | {Median(unpublishCpu):F0} | {Median(unpublishCpu) / Median(nftDeleteCpu):F2} |");
        Console.WriteLine();
        Console.WriteLine($"service RSS growth while published: {Median(rssGrowth):F1} MiB (median; per round {string.Join(", ", rssGrowth.Select(g => g.ToString("F1", CultureInfo.InvariantCulture)))}); descriptors {descriptorsIdle:N0} idle, {descriptorsPublished:N0} published");
        Console.WriteLine($"last publish's steps (ms): {publishSteps}");
        Console.WriteLine($"last unpublish's steps (ms): {unpublishSteps}");
    }

    private static (int First, int Last) Ports(string spec)
    {
        Match m = Regex.Match(spec, @"^(\d+)-(\d+):");
        return m.Success
            ? (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture))
            : throw new ArgumentException($"the spec must start with a host range (20000-29999:…): {spec}");
    }

    /// <summary>The elements our publish makes (a wildcard per family, container port = host port), to add and to delete.</summary>
    private static void WriteElements(string add, string del, int first, int last)
    {
        var a = new StringBuilder();
        var d = new StringBuilder();
        foreach ((string family, string target) in new[] { ("ip", ScaleLab.ContainerV4), ("ip6", ScaleLab.ContainerV6) })
        {
            a.Append(CultureInfo.InvariantCulture, $"add element {family} portpublisher published_any {{\n");
            d.Append(CultureInfo.InvariantCulture, $"delete element {family} portpublisher published_any {{\n");
            for (int p = first; p <= last; p++)
            {
                a.Append(CultureInfo.InvariantCulture, $"  tcp . {p} : {target} . {p},\n");
                d.Append(CultureInfo.InvariantCulture, $"  tcp . {p},\n");
            }

            a.Append("}\n");
            d.Append("}\n");
        }

        File.WriteAllText(add, a.ToString());
        File.WriteAllText(del, d.ToString());
    }

    private static int CountElements(string ns) =>
        Regex.Count(Sh($"ip netns exec {ns} nft list map ip portpublisher published_any; ip netns exec {ns} nft list map ip6 portpublisher published_any"), @"tcp \. \d+ ");
}
