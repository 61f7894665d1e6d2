namespace PortPublisher.Service.Tests;

/// <summary>The settings of deploy/portpublisher.service that a test emulates: <c>Key=value</c> lines, comments skipped.</summary>
internal sealed class UnitFile
{
    private readonly List<(string Key, string Value)> _settings = [];

    private UnitFile(string path)
    {
        foreach (string raw in File.ReadLines(path))
        {
            string line = raw.Trim();
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] is '#' or ';' or '[' || eq < 0)
            {
                continue;
            }

            _settings.Add((line[..eq], line[(eq + 1)..]));
        }
    }

    public static UnitFile Deployed { get; } = new(Path.Combine(Lab.RepoRoot, "deploy", "portpublisher.service"));

    /// <summary>The last value of <paramref name="key"/>, as systemd takes a single-valued setting.</summary>
    public string? Get(string key) => _settings.LastOrDefault(s => s.Key == key).Value;

    /// <summary>
    /// A capability list setting (CAP_NET_ADMIN …) in setpriv's spelling (net_admin …). systemd adds up repeated lines;
    /// an inverted (~) or emptied list is not emulated, so the test refuses it instead of testing something else.
    /// </summary>
    public IReadOnlyList<string> Capabilities(string key)
    {
        var caps = new List<string>();
        foreach ((string k, string v) in _settings.Where(s => s.Key == key))
        {
            if (v.StartsWith('~') || v.Length == 0)
            {
                throw new InvalidOperationException($"{key}={v}: only plain capability lists are emulated");
            }

            caps.AddRange(v.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(c => c["CAP_".Length..].ToLowerInvariant()));
        }

        return caps;
    }
}
