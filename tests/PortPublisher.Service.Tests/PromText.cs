using System.Globalization;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The Prometheus text exposition as scraped: every sample (name as exported, so a histogram's <c>_bucket</c>,
/// <c>_sum</c>, <c>_count</c>), its labels and value, and each family's TYPE.
/// </summary>
public sealed class PromText
{
    private PromText(List<(string Name, Dictionary<string, string> Labels, double Value)> samples, Dictionary<string, string> types)
    {
        Samples = samples;
        Types = types;
    }

    public IReadOnlyList<(string Name, Dictionary<string, string> Labels, double Value)> Samples { get; }

    /// <summary>Family name → counter, gauge, histogram, summary or untyped.</summary>
    public IReadOnlyDictionary<string, string> Types { get; }

    public static PromText Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var samples = new List<(string, Dictionary<string, string>, double)>();
        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] f = line.Split(' ');
                types[f[2]] = f[3];
                continue;
            }

            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            int brace = line.IndexOf('{', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            string name;
            int rest;
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                rest = ParseLabels(line, brace + 1, labels);
            }
            else
            {
                name = line[..space];
                rest = space;
            }

            string value = line[rest..].Trim().Split(' ')[0];
            samples.Add((name, labels, double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture)));
        }

        return new PromText(samples, types);
    }

    /// <summary>The family a sample name belongs to: a histogram's or summary's suffixes stripped only when that family is one.</summary>
    public string FamilyOf(string sample)
    {
        ArgumentNullException.ThrowIfNull(sample);
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
        {
            if (sample.EndsWith(suffix, StringComparison.Ordinal)
                && Types.GetValueOrDefault(sample[..^suffix.Length]) is "histogram" or "summary"
                && (suffix != "_bucket" || Types[sample[..^suffix.Length]] == "histogram"))
            {
                return sample[..^suffix.Length];
            }
        }

        return sample;
    }

    /// <summary>Labels from after the brace to its closing one; returns the index after it. Values keep \" \\ \n escapes decoded.</summary>
    private static int ParseLabels(string line, int i, Dictionary<string, string> into)
    {
        while (line[i] != '}')
        {
            int eq = line.IndexOf('=', i);
            string label = line[i..eq].Trim(' ', ',');
            var value = new System.Text.StringBuilder();
            for (i = eq + 2; line[i] != '"'; i++)
            {
                if (line[i] == '\\')
                {
                    i++;
                    value.Append(line[i] == 'n' ? '\n' : line[i]);
                }
                else
                {
                    value.Append(line[i]);
                }
            }

            into[label] = value.ToString();
            i++;
            while (line[i] is ',' or ' ')
            {
                i++;
            }
        }

        return i + 1;
    }
}
