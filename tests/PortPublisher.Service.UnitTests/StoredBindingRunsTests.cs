using PortPublisher.Service.State;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>Saved bindings are run-length coded in their order: ranges cost one entry per family, and nothing changes on the way back.</summary>
public sealed class StoredBindingRunsTests
{
    [Fact]
    public void ADualStackRangeIsOneEntryPerFamilyAndExpandsInItsOrder()
    {
        List<StoredBinding> range = [.. Enumerable.Range(0, 10_000).SelectMany(i => new[]
        {
            B("0.0.0.0", 20000 + i, 20000 + i, "nat", "10.99.0.2"),
            B("::", 20000 + i, 20000 + i, "proxy", "10.99.0.2"),
        })];

        List<StoredBinding> saved = StoredBindingRuns.Compress(range);

        Assert.Equal([B("0.0.0.0", 20000, 20000, "nat", "10.99.0.2") with { Count = 10_000 }, B("::", 20000, 20000, "proxy", "10.99.0.2") with { Count = 10_000 }], saved);
        Assert.Equal(range, StoredBindingRuns.Expand(saved));
    }

    [Fact]
    public void GroupsOfOtherShapesAndBrokenRunsStayAsTheyAre()
    {
        List<StoredBinding> bindings =
        [
            B("127.0.0.1", 8080, 80), B("0.0.0.0", 8080, 80), B("::", 8080, 80), // one group of three
            B("0.0.0.0", 8081, 81), B("::", 8081, 81),                            // a pair: not the same shape
            B("0.0.0.0", 9000, 90), B("0.0.0.0", 9001, 91), B("0.0.0.0", 9002, 92), // a run of single groups
            B("0.0.0.0", 9003, 93, target: "10.99.0.3"),                         // another target ends it
            B("0.0.0.0", 9005, 95),                                              // a gap
            B("0.0.0.0", 9006, 96, protocol: "udp"),
        ];

        List<StoredBinding> saved = StoredBindingRuns.Compress(bindings);

        Assert.Equal(9, saved.Count);
        Assert.Equal(3, saved[5].Count);
        Assert.Equal(bindings, StoredBindingRuns.Expand(saved));
    }

    [Fact]
    public void RandomListsComeBackUnchanged()
    {
        var random = new Random(13);
        string[] ips = ["0.0.0.0", "::", "127.0.0.1"];
        for (int round = 0; round < 500; round++)
        {
            var bindings = new List<StoredBinding>();
            int port = 1000;
            for (int g = random.Next(1, 20); g > 0; g--)
            {
                port += random.Next(1, 3);
                int container = port + random.Next(0, 2);
                foreach (string ip in ips.Take(random.Next(1, 4)))
                {
                    bindings.Add(B(ip, port, container, random.Next(2) == 0 ? "nat" : "proxy"));
                }
            }

            Assert.Equal(bindings, StoredBindingRuns.Expand(StoredBindingRuns.Compress(bindings)));
        }
    }

    [Fact]
    public void ACountPastThePortsIsRefused()
    {
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => StoredBindingRuns.Expand([B("0.0.0.0", 65000, 80) with { Count = 1000 }]));
        Assert.Contains("count of 1000", e.Message, StringComparison.Ordinal);
    }

    private static StoredBinding B(string ip, int port, int container, string carrier = "nat", string target = "10.99.0.2", string protocol = "tcp") =>
        new(ip, (ushort)port, protocol, (ushort)container, carrier, target);
}
