using System.Text;

namespace PortPublisher.Service.Tests;

/// <summary>
/// The metric names and labels a PromQL expression refers to, found by a tokenizer and a walk over parenthesised
/// groups rather than regexes over the text: an identifier is a metric when it is not a function or aggregation (not
/// followed by <c>(</c>), not a keyword, not a label inside <c>{…}</c> or a clause's list; a <c>{__name__=~"a|b"}</c>
/// selector names a and b. Histogram series keep their exported names (<c>…_bucket</c>); the caller maps them to their
/// family with the exposition's TYPE lines. Enough PromQL for dashboards, not a full parser (promtool is that).
/// </summary>
public sealed class PromQlReferences
{
    private static readonly HashSet<string> s_keywords = new(StringComparer.Ordinal)
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan", "start", "end",
    };

    private static readonly HashSet<string> s_aggregations = new(StringComparer.Ordinal)
    {
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    };

    private static readonly HashSet<string> s_clauses = new(StringComparer.Ordinal) { "by", "without", "on", "ignoring", "group_left", "group_right" };

    private readonly List<(char Kind, string Text)> _tokens;
    private readonly List<PromQlSelector> _selectors = [];
    private readonly List<PromQlGrouping> _groupings = [];

    // The metrics of the group that closed last: a suffix `by (…)` (sum (expr) by (x)) applies to them.
    private List<string>? _lastAggregation;

    private PromQlReferences(string expr)
    {
        _tokens = Tokenize(expr);
    }

    public IReadOnlyList<PromQlSelector> Selectors => _selectors;

    public IReadOnlyList<PromQlGrouping> Groupings => _groupings;

    public IEnumerable<string> Metrics => _selectors.Select(s => s.Metric).Distinct();

    public static PromQlReferences Of(string expr)
    {
        ArgumentNullException.ThrowIfNull(expr);
        var r = new PromQlReferences(expr);
        int i = 0;
        List<string> all = r.Group(ref i, closing: null);
        if (i != r._tokens.Count)
        {
            throw new FormatException($"unbalanced parentheses in {expr}");
        }

        // on/ignoring/group_* lists were recorded without their operands' metrics: they apply to the whole expression.
        for (int g = 0; g < r._groupings.Count; g++)
        {
            if (r._groupings[g].Metrics.Count == 0)
            {
                r._groupings[g] = r._groupings[g] with { Metrics = all };
            }
        }

        return r;
    }

    /// <summary>Walks tokens up to the closing token; returns the metrics met on the way (nested groups included).</summary>
    private List<string> Group(ref int i, string? closing)
    {
        var metrics = new List<string>();
        List<string>? pendingLabels = null; // `sum by (x)` seen, its argument group not yet
        string pendingClause = string.Empty;
        while (i < _tokens.Count)
        {
            (char kind, string text) = _tokens[i];
            if (kind == 'p' && text == closing)
            {
                return metrics;
            }

            if (kind == 'i' && s_clauses.Contains(text) && Peek(i + 1) == "(")
            {
                i += 2;
                List<string> labels = LabelList(ref i);
                if (text is "by" or "without" && Peek(i) == "(")
                {
                    pendingLabels = labels; // prefix form: sum by (x) (expr)
                    pendingClause = text;
                }
                else if (text is "by" or "without" && metrics.Count > 0 && _lastAggregation is List<string> last)
                {
                    _groupings.Add(new PromQlGrouping(text, labels, last)); // suffix form: sum (expr) by (x)
                }
                else
                {
                    _groupings.Add(new PromQlGrouping(text, labels, []));
                }

                continue;
            }

            if (kind == 'i' && s_aggregations.Contains(text) && i + 1 < _tokens.Count && _tokens[i + 1].Text is "by" or "without")
            {
                i++; // `sum by (x) (expr)`: the clause and its argument group come next
                continue;
            }

            if (kind == 'i' && Peek(i + 1) == "(")
            {
                // A function or aggregation call: its argument group.
                i += 2;
                List<string> inner = Group(ref i, ")");
                i++;
                metrics.AddRange(inner);
                _lastAggregation = inner;
                continue;
            }

            if (kind == 'p' && text == "(")
            {
                i++;
                List<string> inner = Group(ref i, ")");
                i++;
                metrics.AddRange(inner);
                if (pendingLabels is not null)
                {
                    _groupings.Add(new PromQlGrouping(pendingClause, pendingLabels, inner));
                    pendingLabels = null;
                }

                _lastAggregation = inner;
                continue;
            }

            if (kind == 'i' && !s_keywords.Contains(text))
            {
                i++;
                List<string> labels = Peek(i) == "{" ? Matchers(ref i, out _) : [];
                _selectors.Add(new PromQlSelector(text, labels));
                metrics.Add(text);
                continue;
            }

            if (kind == 'p' && text == "{")
            {
                // A selector without a name: {__name__=~"a|b", …} names each alternative.
                List<string> labels = Matchers(ref i, out List<string> names);
                foreach (string name in names)
                {
                    _selectors.Add(new PromQlSelector(name, labels));
                    metrics.Add(name);
                }

                continue;
            }

            i++;
        }

        return closing is null ? metrics : throw new FormatException($"missing '{closing}'");
    }

    private string? Peek(int i) => i < _tokens.Count && _tokens[i].Kind == 'p' ? _tokens[i].Text : null;

    /// <summary>`(a, b)` after a clause keyword, the opening parenthesis already taken.</summary>
    private List<string> LabelList(ref int i)
    {
        var labels = new List<string>();
        for (; i < _tokens.Count && !(_tokens[i].Kind == 'p' && _tokens[i].Text == ")"); i++)
        {
            if (_tokens[i].Kind == 'i')
            {
                labels.Add(_tokens[i].Text);
            }
        }

        i++;
        return labels;
    }

    /// <summary>`{l="v", m=~"w"}` from its brace: the label names tested, and the metric names a __name__ matcher lists.</summary>
    private List<string> Matchers(ref int i, out List<string> names)
    {
        var labels = new List<string>();
        names = [];
        i++;
        while (i < _tokens.Count && !(_tokens[i].Kind == 'p' && _tokens[i].Text == "}"))
        {
            if (_tokens[i].Kind == 'i' && i + 2 < _tokens.Count && _tokens[i + 1].Kind == 'p' && _tokens[i + 2].Kind == 's')
            {
                string label = _tokens[i].Text, op = _tokens[i + 1].Text, value = _tokens[i + 2].Text;
                if (label == "__name__")
                {
                    names.AddRange(op == "=~" ? value.Split('|') : [value]);
                }
                else
                {
                    labels.Add(label);
                }

                i += 3;
                continue;
            }

            i++;
        }

        i++;
        return labels;
    }

    private static List<(char Kind, string Text)> Tokenize(string s)
    {
        var tokens = new List<(char, string)>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c is '"' or '\'' or '`')
            {
                var sb = new StringBuilder();
                for (i++; i < s.Length && s[i] != c; i++)
                {
                    if (s[i] == '\\' && c != '`' && i + 1 < s.Length)
                    {
                        i++;
                    }

                    sb.Append(s[i]);
                }

                i++;
                tokens.Add(('s', sb.ToString()));
            }
            else if (c == '[')
            {
                // A range or subquery ([5m], [1h:1m]): durations only.
                int end = s.IndexOf(']', i);
                tokens.Add(('r', s[i..(end + 1)]));
                i = end + 1;
            }
            else if (char.IsAsciiLetter(c) || c is '_' or ':')
            {
                int start = i;
                while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] is '_' or ':'))
                {
                    i++;
                }

                tokens.Add(('i', s[start..i]));
            }
            else if (char.IsAsciiDigit(c) || (c == '.' && i + 1 < s.Length && char.IsAsciiDigit(s[i + 1])))
            {
                int start = i;
                while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '.' || ((s[i] is '+' or '-') && s[i - 1] is 'e' or 'E')))
                {
                    i++;
                }

                tokens.Add(('n', s[start..i]));
            }
            else
            {
                string two = i + 1 < s.Length ? s.Substring(i, 2) : string.Empty;
                string op = two is "=~" or "!~" or "!=" or "==" or "<=" or ">=" ? two : c.ToString();
                tokens.Add(('p', op));
                i += op.Length;
            }
        }

        return tokens;
    }
}
