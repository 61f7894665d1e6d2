using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.Service.Tests;

/// <summary>With --metrics-per-binding the traffic series carry host_port (without it there is no such label: PublishTests).</summary>
[Trait("Category", "Netns")]
public sealed class MetricsPerBindingTests
{
    [Fact]
    public async Task PerBinding_TrafficSeriesCarryTheHostPort()
    {
        await using Lab lab = await Lab.StartAsync("--metrics-per-binding", "true");
        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 82);
        Assert.Equal(0, lab.Cli("publish", "mpb", "--netns", lab.Container, "-p", "7510:82").Code);
        await Peer.AskTcp(lab.ClientNs, HostV4, 7510);
        await Peer.AskTcp(lab.HostNs, "::1", 7510);
        string metrics = lab.InHost($"curl -sf http://127.0.0.1:{lab.MetricsPort}/metrics");
        Assert.Contains("portpublisher_nat_connections_total{publication=\"mpb\",protocol=\"tcp\",host_port=\"7510\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("portpublisher_proxy_connections_total{publication=\"mpb\",protocol=\"tcp\",host_port=\"7510\"} 1", metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("host_port=\"\"", metrics, StringComparison.Ordinal);
        if (File.Exists("/usr/bin/promtool"))
        {
            string file = Path.Combine(lab.Dir, "metrics.txt");
            await File.WriteAllTextAsync(file, metrics, TestContext.Current.CancellationToken);
            (int code, string o, string e) = Run("/bin/sh", ["-c", $"promtool check metrics < {file}"]);
            Assert.True(code == 0, o + e);
        }
    }
}
