using System.Text.Json;
using PortPublisher.Core.Specs;
using Xunit;

namespace PortPublisher.Core.Tests.Specs;

public class PortSpecCorpusTests
{
    public static TheoryData<string, bool, string> Rows()
    {
        var data = new TheoryData<string, bool, string>();
        string[] lines = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "portspec-docker-28.2.tsv")).Split('\n');
        foreach (string line in lines.Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }

            // Fields are not trimmed: some of Docker's errors end with a space.
            string[] f = line.Split('\t');
            Assert.Equal(3, f.Length);
            data.Add(f[0], f[1] == "1", f[2]);
        }

        return data;
    }

    [Fact]
    public void CorpusIsComplete() => Assert.True(Rows().Count >= 190, "the corpus file lost rows");

    [Theory]
    [MemberData(nameof(Rows))]
    public void ParseMatchesDocker(string spec, bool ok, string expected)
    {
        if (ok)
        {
            IReadOnlyList<PortMapping> mappings = PortSpecParser.Parse(spec);
            List<Row> want = JsonSerializer.Deserialize(expected, RowContext.Default.ListRow)!;
            Assert.Equal(want, mappings.Select(m => new Row(m.Key, m.HostIp, m.HostPortText)).ToList());
        }
        else
        {
            PortSpecException e = Assert.Throws<PortSpecException>(() => PortSpecParser.Parse(spec));
            Assert.Equal(expected, e.Message);
            Assert.Equal(spec, e.Spec);
        }
    }
}
