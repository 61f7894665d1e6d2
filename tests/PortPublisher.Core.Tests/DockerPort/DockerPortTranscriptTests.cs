using System.Text.Json;
using PortPublisher.Core.DockerPort;
using Xunit;

namespace PortPublisher.Core.Tests.DockerPort;

/// <summary>Replays the recorded docker CLI 28.2.2 transcript (cat -A form, exact bytes) against the formatter.</summary>
public class DockerPortTranscriptTests
{
    private static readonly string s_dir = Path.Combine(AppContext.BaseDirectory, "TestData", "docker-port");

    public sealed record Scenario(string Command, string Stdout, string Stderr, int Exit)
    {
        public override string ToString() => Command;
    }

    public static IEnumerable<Scenario> ReadTranscript()
    {
        string? command = null;
        string section = string.Empty;
        var stdout = new System.Text.StringBuilder();
        var stderr = new System.Text.StringBuilder();
        foreach (string line in File.ReadAllLines(Path.Combine(s_dir, "docker-port-transcript-cat-A.txt")))
        {
            if (line.StartsWith("$ ", StringComparison.Ordinal))
            {
                command = line[2..];
                stdout.Clear();
                stderr.Clear();
                section = string.Empty;
            }
            else if (line is "--- stdout:" or "--- stderr:")
            {
                section = line;
            }
            else if (line.StartsWith("--- exit: ", StringComparison.Ordinal) && command is not null)
            {
                yield return new Scenario(command, stdout.ToString(), stderr.ToString(), int.Parse(line[10..], System.Globalization.CultureInfo.InvariantCulture));
                command = null;
            }
            else if (command is not null && line.EndsWith('$'))
            {
                (section == "--- stdout:" ? stdout : stderr).Append(line[..^1]).Append('\n');
            }
        }
    }

    private static Dictionary<string, List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>>?> ReadContainers()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(s_dir, "fake-containers.json")));
        var result = new Dictionary<string, List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>>?>();
        foreach (JsonProperty c in doc.RootElement.EnumerateObject())
        {
            if (!c.Value.TryGetProperty("NetworkSettings", out JsonElement ns))
            {
                continue; // the real CLI panics on these; our service never serves such a body
            }

            JsonElement ports = ns.GetProperty("Ports");
            if (ports.ValueKind == JsonValueKind.Null)
            {
                result[c.Name] = null;
                continue;
            }

            var list = new List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>>();
            foreach (JsonProperty p in ports.EnumerateObject())
            {
                IReadOnlyList<PortBindingView>? views = p.Value.ValueKind == JsonValueKind.Null
                    ? null
                    : [.. p.Value.EnumerateArray().Select(b => new PortBindingView(b.GetProperty("HostIp").GetString()!, b.GetProperty("HostPort").GetString()!))];
                list.Add(new(p.Name, views));
            }

            result[c.Name] = list;
        }

        return result;
    }

    public static TheoryData<Scenario> FormatterScenarios()
    {
        Dictionary<string, List<KeyValuePair<string, IReadOnlyList<PortBindingView>?>>?> containers = ReadContainers();
        var data = new TheoryData<Scenario>();
        foreach (Scenario s in ReadTranscript())
        {
            string[] argv = s.Command.Split(' ');
            string[] args = argv[1] == "container" ? argv[3..] : argv[2..];
            if (args.Length is 1 or 2 && containers.ContainsKey(args[0]))
            {
                data.Add(s);
            }
        }

        return data;
    }

    [Fact]
    public void TranscriptCoversTheFixtures() => Assert.True(FormatterScenarios().Count >= 24);

    [Theory]
    [MemberData(nameof(FormatterScenarios))]
    public void Format_MatchesDockerByteForByte(Scenario scenario)
    {
        string[] argv = scenario.Command.Split(' ');
        string[] args = argv[1] == "container" ? argv[3..] : argv[2..];
        CommandOutput output = DockerPortFormatter.Format(args[0], ReadContainers()[args[0]], args.Length > 1 ? args[1] : null);
        Assert.Equal(scenario.Stdout, output.Stdout);
        Assert.Equal(scenario.Stderr, output.Stderr);
        Assert.Equal(scenario.Exit, output.ExitCode);
    }
}
