using System.Globalization;
using System.Text.Json;
using Xunit;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// What the service says (<c>ls --json</c>, <c>port NAME</c>) against what the kernel holds (the elements of the
/// <c>published</c> and <c>published_any</c> maps of the ip and ip6 tables; the listening sockets of the host
/// namespace): every binding has its element or listener and nothing else is there.
/// </summary>
internal static class Agreement
{
    public sealed record Binding(string Publication, string HostIp, int HostPort, string Protocol, int ContainerPort, string Carrier, string TargetIp);

    public static List<Binding> Bindings(Lab lab)
    {
        using JsonDocument doc = JsonDocument.Parse(lab.Cli("ls", "--json").Stdout);
        var all = new List<Binding>();
        foreach (JsonElement p in doc.RootElement.EnumerateArray())
        {
            string target = p.TryGetProperty("targetIp", out JsonElement t) ? t.GetString() ?? string.Empty : string.Empty;
            foreach (JsonElement b in p.GetProperty("bindings").EnumerateArray())
            {
                all.Add(new Binding(p.GetProperty("name").GetString()!, b.GetProperty("hostIp").GetString()!, b.GetProperty("hostPort").GetInt32(),
                    b.GetProperty("protocol").GetString()!, b.GetProperty("containerPort").GetInt32(), b.GetProperty("carrier").GetString()!, target));
            }
        }

        return all;
    }

    /// <summary>"family map key : value" for every element of our maps, e.g. "ip published_any tcp . 8080 : 10.99.0.2 . 80".</summary>
    public static HashSet<string> Elements(Lab lab, string table = "portpublisher")
    {
        var elements = new HashSet<string>(StringComparer.Ordinal);
        // Map by map, not `list table`: nft 1.0.6 prints a table's flags from past the end of its names array when a
        // flag is newer than it (NFT_TABLE_F_PERSIST, left alone once the owning service has gone), and what it finds
        // there depends on the heap, so the table's JSON comes out garbled or cut off after `"flags": `.
        foreach ((string family, string mapName) in new[] { ("ip", "published"), ("ip", "published_any"), ("ip6", "published"), ("ip6", "published_any") })
        {
            (int code, string json, _) = Run("ip", ["netns", "exec", lab.Host, "nft", "-j", "list", "map", family, table, mapName]);
            if (code != 0)
            {
                continue; // no such table: no elements
            }

            using JsonDocument doc = JsonDocument.Parse(json);
            foreach (JsonElement item in doc.RootElement.GetProperty("nftables").EnumerateArray())
            {
                if (!item.TryGetProperty("map", out JsonElement map) || !map.TryGetProperty("elem", out JsonElement elems))
                {
                    continue;
                }

                string name = map.GetProperty("name").GetString()!;
                foreach (JsonElement pair in elems.EnumerateArray())
                {
                    JsonElement key = pair[0].TryGetProperty("elem", out JsonElement wrapped) ? wrapped.GetProperty("val") : pair[0];
                    elements.Add($"{family} {name} {Concat(key)} : {Concat(pair[1])}");
                }
            }
        }

        return elements;
    }

    /// <summary>The elements the NAT'ed bindings call for.</summary>
    public static HashSet<string> ExpectedElements(IEnumerable<Binding> bindings) =>
        [.. bindings.Where(b => b.Carrier == "nat").Select(b =>
        {
            string family = b.HostIp.Contains(':', StringComparison.Ordinal) ? "ip6" : "ip";
            bool wildcard = b.HostIp is "0.0.0.0" or "::";
            string key = wildcard ? $"{b.Protocol} . {b.HostPort}" : $"{b.HostIp} . {b.Protocol} . {b.HostPort}";
            return $"{family} {(wildcard ? "published_any" : "published")} {key} : {b.TargetIp} . {b.ContainerPort}";
        })];

    /// <summary>Listening TCP sockets of the host namespace, "ADDRESS:PORT" as ss prints them, but for <paramref name="except"/>.</summary>
    public static HashSet<string> Listeners(Lab lab, params int[] except) =>
        [.. lab.InHost("ss -Hltn").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3])
            .Where(a => !except.Contains(int.Parse(a[(a.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)))];

    /// <summary>
    /// The listeners the bindings call for: every proxied TCP binding and every NAT'ed wildcard one (it serves [::1] and
    /// 127.0.0.1). A publication's pair 0.0.0.0 and [::] of one port (and nothing else on it) is one dual-stack socket,
    /// which ss prints as *:PORT.
    /// </summary>
    public static HashSet<string> ExpectedListeners(IEnumerable<Binding> bindings) =>
        [.. bindings.Where(b => b.Protocol == "tcp").GroupBy(b => (b.Publication, b.HostPort)).SelectMany(g =>
            g.Count() == 2 && g.Any(b => b.HostIp == "0.0.0.0") && g.Any(b => b.HostIp == "::")
                ? [$"*:{g.Key.HostPort}"]
                : g.Where(b => b.Carrier == "proxy" || b.HostIp is "::" or "0.0.0.0")
                    .Select(b => b.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{b.HostIp}]:{b.HostPort}" : $"{b.HostIp}:{b.HostPort}"))];

    /// <summary>Asserts that state, `port`, the maps and the listeners agree; the bindings in state.</summary>
    public static List<Binding> Assert(Lab lab)
    {
        List<Binding> bindings = Bindings(lab);
        SameSet("map elements", ExpectedElements(bindings), Elements(lab));
        SameSet("listening sockets", ExpectedListeners(bindings), Listeners(lab, lab.MetricsPort));
        foreach (IGrouping<string, Binding> p in bindings.GroupBy(b => b.Publication))
        {
            (int code, string port, string err) = lab.Cli(TimeSpan.FromSeconds(15), "port", p.Key);
            Xunit.Assert.True(code == 0, $"port {p.Key} exited {code}: {err}");
            HashSet<string> expected = [.. p.Select(b => $"{b.ContainerPort}/{b.Protocol} -> {(b.HostIp.Contains(':', StringComparison.Ordinal) ? $"[{b.HostIp}]" : b.HostIp)}:{b.HostPort}")];
            SameSet($"`port {p.Key}` lines", expected, [.. port.Split('\n', StringSplitOptions.RemoveEmptyEntries)]);
        }

        return bindings;
    }

    private static void SameSet(string what, HashSet<string> expected, HashSet<string> actual)
    {
        string[] missing = [.. expected.Except(actual).Order(StringComparer.Ordinal)];
        string[] orphans = [.. actual.Except(expected).Order(StringComparer.Ordinal)];
        Xunit.Assert.True(missing.Length == 0 && orphans.Length == 0,
            $"{what}: {missing.Length} missing (first: {string.Join(", ", missing.Take(5))}), {orphans.Length} orphans (first: {string.Join(", ", orphans.Take(5))}); {expected.Count} expected");
    }

    private static string Concat(JsonElement e) => e.ValueKind == JsonValueKind.Object && e.TryGetProperty("concat", out JsonElement parts)
        ? string.Join(" . ", parts.EnumerateArray().Select(Scalar))
        : Scalar(e);

    private static string Scalar(JsonElement e) => e.ValueKind == JsonValueKind.Number ? e.GetInt32().ToString(CultureInfo.InvariantCulture) : e.GetString() ?? string.Empty;
}
