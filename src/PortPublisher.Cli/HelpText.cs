using System.CommandLine;

namespace PortPublisher.Cli;

/// <summary>
/// Repairs System.CommandLine's list of commands, which writes every argument as <c>&lt;X&gt;</c>, optional or not: the
/// top-level help showed <c>port &lt;NAME&gt; &lt;PRIVATE_PORT[/PROTO]&gt;</c> while <c>port --help</c> says
/// <c>[&lt;PRIVATE_PORT[/PROTO]&gt;]</c>. Its help builder is internal, so the text is rewritten: each row's label as the
/// verb's own usage line writes it, and the description column moved to fit.
/// </summary>
internal static class HelpText
{
    public static string FixCommandLabels(string help, IEnumerable<Command> verbs)
    {
        Dictionary<string, string> labels = verbs.ToDictionary(v => v.Name, Label, StringComparer.Ordinal);
        string newline = help.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
        string[] lines = help.Split(newline);
        int start = Array.IndexOf(lines, "Commands:");
        if (start < 0)
        {
            return help;
        }

        int end = start + 1;
        while (end < lines.Length && lines[end].Length > 0)
        {
            end++;
        }

        // A row is "  LABEL  DESCRIPTION"; a line that starts with more spaces continues the description above it.
        var rows = new List<(int Line, string Label, string Description)>();
        int oldColumn = 0;
        for (int i = start + 1; i < end; i++)
        {
            string line = lines[i];
            if (line.Length > 2 && line[2] != ' ')
            {
                int gap = line.IndexOf("  ", 2, StringComparison.Ordinal);
                string label = gap < 0 ? line[2..] : line[2..gap];
                string description = gap < 0 ? string.Empty : line[gap..].TrimStart();
                oldColumn = Math.Max(oldColumn, gap < 0 ? line.Length : line.Length - description.Length);
                string name = label.Split(' ')[0];
                rows.Add((i, labels.TryGetValue(name, out string? fixedLabel) ? fixedLabel : label, description));
            }
        }

        if (rows.Count == 0)
        {
            return help;
        }

        int column = Math.Max(oldColumn, 2 + rows.Max(r => r.Label.Length) + 2);
        string shift = new(' ', column - oldColumn);
        for (int i = start + 1; i < end; i++)
        {
            lines[i] = shift + lines[i];
        }

        foreach ((int line, string label, string description) in rows)
        {
            lines[line] = ("  " + label.PadRight(column - 2) + description).TrimEnd();
        }

        return string.Join(newline, lines);
    }

    /// <summary>The verb with its arguments, the optional ones in brackets, as its usage line has them.</summary>
    private static string Label(Command verb) =>
        string.Join(' ', verb.Arguments.Where(a => !a.Hidden).Select(a =>
        {
            string name = $"<{a.HelpName ?? a.Name}>";
            return a.Arity.MinimumNumberOfValues == 0 ? $"[{name}]" : name;
        }).Prepend(verb.Name));
}
