using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;
using static PortPublisher.Service.Tests.Net;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>
/// deploy/grafana/portpublisher.json against the real daemon: every metric its expressions name is exported on
/// /metrics once a publication has a NAT and a proxied binding, every label they match or group by is on that metric,
/// every portpublisher_* family is on the dashboard, and (with promtool) every expression parses and returns data
/// over series made from that scrape.
/// </summary>
[Trait("Category", "Netns")]
public sealed partial class GrafanaDashboardTests
{
    /// <summary>Prometheus attaches these to every scraped series; the daemon's /metrics never has them.</summary>
    private static readonly string[] s_targetLabels = ["job", "instance"];

    private static readonly string s_path = Path.Combine(RepoRoot, "deploy", "grafana", "portpublisher.json");

    [Theory]
    [InlineData("sum by (publication, direction) (rate(portpublisher_proxy_bytes_total{publication=~\".*\"}[1m]))", "portpublisher_proxy_bytes_total", "publication", "by:publication,direction")]
    [InlineData("histogram_quantile(0.99, sum(rate(x_seconds_bucket[5m])) by (le))", "x_seconds_bucket", "", "by:le")]
    [InlineData("sum(rate(a_sum[1m])) / sum(rate(a_count[1m]))", "a_sum,a_count", "", "")]
    [InlineData("{__name__=~\"p_total|q_total\", kind!=\"x\"}", "p_total,q_total", "kind", "")]
    [InlineData("rate(m[5m] offset 1h) > bool 0 and on (job) up", "m,up", "", "on:job")]
    public void References_FindMetricsLabelsAndGroupings(string expr, string metrics, string matcherLabels, string grouping)
    {
        PromQlReferences r = PromQlReferences.Of(expr);

        Assert.Equal(metrics.Split(','), r.Metrics);
        Assert.Equal(matcherLabels.Length == 0 ? [] : matcherLabels.Split(','), r.Selectors.SelectMany(s => s.MatcherLabels).Distinct());
        Assert.Equal(grouping, string.Join(';', r.Groupings.Select(g => $"{g.Clause}:{string.Join(',', g.Labels)}")));
    }

    [Fact]
    public void Dashboard_IsImportReadyWithDatasourceAndPublicationVariables()
    {
        JsonObject d = Load();
        JsonObject input = Assert.Single(d["__inputs"]!.AsArray())!.AsObject();
        Assert.Equal(("DS_PROMETHEUS", "datasource", "prometheus"), ((string?)input["name"], (string?)input["type"], (string?)input["pluginId"]));
        Assert.Null(d["id"]?.GetValue<int?>()); // an import must not carry another Grafana's database id
        Assert.False(string.IsNullOrEmpty((string?)d["uid"]));

        JsonArray variables = d["templating"]!["list"]!.AsArray();
        JsonObject ds = variables.Single(v => (string?)v!["name"] == "datasource")!.AsObject();
        Assert.Equal(("datasource", "prometheus", "${DS_PROMETHEUS}"), ((string?)ds["type"], (string?)ds["query"], (string?)ds["current"]!["value"]));
        JsonObject publication = variables.Single(v => (string?)v!["name"] == "publication")!.AsObject();
        Assert.Equal(("query", true, true), ((string?)publication["type"], (bool?)publication["multi"], (bool?)publication["includeAll"]));

        List<JsonObject> panels = Panels(d);
        Assert.Equal(panels.Count, panels.Select(p => (int)p["id"]!).Distinct().Count());
        foreach (JsonObject p in panels.Where(p => (string?)p["type"] != "row"))
        {
            Assert.Equal("${datasource}", (string?)p["datasource"]!["uid"]);
            JsonArray targets = p["targets"]!.AsArray();
            Assert.NotEmpty(targets);
            Assert.Equal(targets.Count, targets.Select(t => (string?)t!["refId"]).Distinct().Count());
            Assert.All(targets, t => Assert.Equal("${datasource}", (string?)t!["datasource"]!["uid"]));
        }

        // Every panel that shows publications follows the variable.
        List<(string Where, string Expr)> perPublication = [.. Expressions(d).Where(e => PromQlReferences.Of(e.Expr).Groupings.Any(g => g.Labels.Contains("publication")))];
        Assert.True(perPublication.Count >= 6, $"{perPublication.Count} per-publication expressions");
        Assert.All(perPublication, e => Assert.Contains("{publication=~\"$publication\"}", e.Expr, StringComparison.Ordinal));
    }

    [Fact]
    public async Task EveryExpression_NamesMetricsAndLabelsTheDaemonExports()
    {
        await using Lab lab = await Lab.StartAsync();
        string metrics = await ScrapeWithEverySeries(lab);
        PromText scrape = PromText.Parse(metrics);
        var labelsOf = scrape.Samples.GroupBy(s => s.Name).ToDictionary(g => g.Key, g => g.SelectMany(s => s.Labels.Keys).ToHashSet(), StringComparer.Ordinal);
        JsonObject d = Load();
        List<(string Where, string Expr)> exprs = Expressions(d);
        Assert.True(exprs.Count >= 15, $"{exprs.Count} expressions");

        var problems = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach ((string where, string raw) in exprs)
        {
            string expr = Concrete(raw);
            string? valuesLabel = null;
            Match lv = LabelValues().Match(expr);
            if (lv.Success)
            {
                (expr, valuesLabel) = (lv.Groups[1].Value, lv.Groups[2].Value);
            }

            PromQlReferences refs = PromQlReferences.Of(expr);
            Assert.NotEmpty(refs.Metrics);
            foreach (PromQlSelector s in refs.Selectors)
            {
                used.Add(scrape.FamilyOf(s.Metric));
                if (!labelsOf.TryGetValue(s.Metric, out HashSet<string>? have))
                {
                    string prefix = s.Metric.Split('_')[0] + "_";
                    problems.Add($"{where}: {s.Metric} is not on /metrics (its {prefix}* names: {string.Join(", ", labelsOf.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)))})");
                    continue;
                }

                problems.AddRange(s.MatcherLabels.Concat(valuesLabel is null ? [] : [valuesLabel]).Where(l => !have.Contains(l) && !s_targetLabels.Contains(l))
                    .Select(l => $"{where}: {s.Metric} has no label {l} (it has {string.Join(", ", have)})"));
            }

            foreach (PromQlGrouping g in refs.Groupings)
            {
                problems.AddRange(
                    from m in g.Metrics.Distinct()
                    where labelsOf.ContainsKey(m)
                    from l in g.Labels
                    where !labelsOf[m].Contains(l) && !s_targetLabels.Contains(l)
                    select $"{where}: {g.Clause} ({l}) but {m} has no label {l}");
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));

        // The other way round: nothing the service exports is missing from the dashboard.
        var families = scrape.Samples.Select(s => scrape.FamilyOf(s.Name)).Where(f => f.StartsWith("portpublisher_", StringComparison.Ordinal)).ToHashSet();
        Assert.True(families.Count >= 10, string.Join(", ", families));
        Assert.Empty(families.Except(used));
        Assert.Equal("histogram", scrape.Types["portpublisher_nftables_transaction_seconds"]);

        if (!File.Exists("/usr/bin/promtool"))
        {
            Assert.Skip("promtool (Debian package prometheus) is not installed: names and labels were checked against /metrics, but the expressions were not parsed or evaluated");
        }

        PromtoolCheck(lab.Dir, exprs.Select(e => (e.Where, Concrete(e.Expr))).Where(e => !e.Item2.StartsWith("label_values", StringComparison.Ordinal)).ToList(), scrape);
    }

    /// <summary>
    /// A publication with a NAT'ed binding (0.0.0.0:7710) and proxied ones ([::]:7710 to an IPv4-only container, and
    /// [::]:7711 whose target port nothing listens on), traffic through each, a refused publish: then every series
    /// the dashboard reads exists. Returns the scrape once the error counters, filled last, are in it.
    /// </summary>
    private static async Task<string> ScrapeWithEverySeries(Lab lab)
    {
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 84);
        (int code, _, string err) = lab.Cli("publish", "graf", "--netns", lab.Container, "-p", "7710:84", "-p", "7711:85");
        Assert.True(code == 0, err + lab.Log);
        Assert.Contains("\"carrier\":\"nat\"", lab.Cli("ls", "--json").Stdout, StringComparison.Ordinal);
        Assert.Contains("\"carrier\":\"proxy\"", lab.Cli("ls", "--json").Stdout, StringComparison.Ordinal);
        await Peer.AskTcp(lab.ClientNs, HostV4, 7710);  // NAT
        await Peer.AskTcp(lab.HostNs, "::1", 7710);     // [::1] -> the [::] binding -> proxy
        try
        {
            await Peer.AskTcp(lab.HostNs, "::1", 7711, timeoutMs: 2000); // the proxy's dial is refused: DialFailed
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
        }

        Assert.NotEqual(0, lab.Cli("publish", "graf2", "--netns", lab.Container, "-p", "7710:84").Code); // port taken: errors_total{kind="rejected"}

        string metrics = string.Empty;
        await Eventually(
            () =>
            {
                metrics = lab.InHost($"curl -sf http://127.0.0.1:{lab.MetricsPort}/metrics");
                return metrics.Contains("portpublisher_proxy_errors_total{", StringComparison.Ordinal)
                    && metrics.Contains("portpublisher_errors_total{", StringComparison.Ordinal)
                    && metrics.Contains("portpublisher_nat_connections_total{", StringComparison.Ordinal);
            },
            10_000,
            () => $"proxy, NAT and service error series on /metrics; last scrape:\n{metrics}");
        return metrics;
    }

    /// <summary>
    /// promtool check rules parses each expression (wrapped as a recording rule); promtool test rules evaluates each as
    /// <c>group(expr)</c> over the scrape turned into 10 minutes of series (counters rising by their scraped value every
    /// 15 s, gauges flat, the target labels added as Prometheus adds them) and expects one sample: the panel has data.
    /// </summary>
    private static void PromtoolCheck(string dir, List<(string Where, string Expr)> exprs, PromText scrape)
    {
        var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (int i = 0; i < exprs.Count; i++)
        {
            rules.Append(CultureInfo.InvariantCulture, $"      - record: dashboard:expr_{i}\n        expr: {JsonSerializer.Serialize(exprs[i].Expr)}\n");
        }

        string rulesFile = Path.Combine(dir, "dashboard-rules.yml");
        File.WriteAllText(rulesFile, rules.ToString());
        (int code, string o, string e) = Run("promtool", ["check", "rules", rulesFile]);
        Assert.True(code == 0, $"promtool check rules:\n{o}{e}\n{rules}");

        var test = new StringBuilder($"rule_files: [{JsonSerializer.Serialize(rulesFile)}]\nevaluation_interval: 15s\ntests:\n  - interval: 15s\n    input_series:\n");
        foreach ((string name, Dictionary<string, string> labels, double value) in scrape.Samples)
        {
            string type = scrape.Types.GetValueOrDefault(scrape.FamilyOf(name), "untyped");
            string v = value.ToString("0.############", CultureInfo.InvariantCulture);
            string values = type is "counter" or "histogram" or "summary" ? $"0+{v}x40" : $"{v}x40";
            string all = string.Join(',', labels.Append(new("job", "portpublisher")).Append(new("instance", "127.0.0.1:9469"))
                .Select(kv => $"{kv.Key}={JsonSerializer.Serialize(kv.Value)}"));
            test.Append(CultureInfo.InvariantCulture, $"      - series: {JsonSerializer.Serialize($"{name}{{{all}}}")}\n        values: '{values}'\n");
        }

        test.Append("    promql_expr_test:\n");
        foreach ((string where, string expr) in exprs)
        {
            test.Append(CultureInfo.InvariantCulture, $"      # {where}\n      - expr: {JsonSerializer.Serialize($"group({expr})")}\n        eval_time: 10m\n        exp_samples:\n          - labels: '{{}}'\n            value: 1\n");
        }

        string testFile = Path.Combine(dir, "dashboard-test.yml");
        File.WriteAllText(testFile, test.ToString());
        (code, o, e) = Run("promtool", ["test", "rules", testFile]);
        Assert.True(code == 0, $"promtool test rules (an expression without data over the scraped series):\n{o}{e}");
    }

    private static JsonObject Load() => JsonNode.Parse(File.ReadAllText(s_path))!.AsObject();

    /// <summary>Every panel, those inside collapsed rows too.</summary>
    private static List<JsonObject> Panels(JsonObject d) =>
        [.. d["panels"]!.AsArray().SelectMany(p => new[] { p!.AsObject() }.Concat(p["panels"]?.AsArray().Select(c => c!.AsObject()) ?? []))];

    /// <summary>Each target's expr (named by its panel and refId) and each query variable's query.</summary>
    private static List<(string Where, string Expr)> Expressions(JsonObject d)
    {
        var exprs = new List<(string, string)>();
        foreach (JsonObject p in Panels(d))
        {
            foreach (JsonNode? t in p["targets"]?.AsArray() ?? [])
            {
                exprs.Add(($"panel \"{p["title"]}\" {t!["refId"]}", (string)t["expr"]!));
            }
        }

        foreach (JsonNode? v in d["templating"]!["list"]!.AsArray().Where(v => (string?)v!["type"] == "query"))
        {
            exprs.Add(($"variable {v!["name"]}", (string)v["query"]!["query"]!));
        }

        return exprs;
    }

    /// <summary>Grafana's variables replaced as Grafana would before sending the query.</summary>
    private static string Concrete(string expr) => expr
        .Replace("$__rate_interval", "1m", StringComparison.Ordinal)
        .Replace("$__range", "5m", StringComparison.Ordinal)
        .Replace("$publication", ".*", StringComparison.Ordinal)
        .Replace("$job", ".*", StringComparison.Ordinal);

    [GeneratedRegex(@"^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$")]
    private static partial Regex LabelValues();
}
