using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using PortPublisher.Core.Api;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Issue 13, goal 3 (correctness, not timing; bench/ scale-many measures): hundreds of publications of every shape
/// come back from a kill -9 and from a clean restart exactly as they were: the same bindings, one listener per port,
/// the same map elements, and traffic.
/// </summary>
[Trait("Category", "Netns")]
public sealed partial class ManyPublicationsTests
{
    private const int Count = 300;

    [Fact]
    public async Task ManyPublicationsComeBackFromAKillAndARestartAsTheyWere()
    {
        await using Lab lab = await StartAsync(containerIPv6: true);
        using (HttpClient http = Client(lab))
        {
            for (int i = 0; i < Count; i++)
            {
                // Pairs mostly; some UDP pairs, some specific addresses, and one range among them.
                string[] specs = (i % 15) switch
                {
                    0 => [$"{31000 + i}:53/udp"],
                    5 => [$"127.0.0.1:{31000 + i}:80"],
                    10 => [$"{31000 + i}:80", $"[::1]:{30000 + i}:81"],
                    _ => [$"{31000 + i}:80"],
                };
                using HttpResponseMessage r = await http.PostAsJsonAsync("v1/publications", new PublishRequest($"p{i}", lab.Container, specs), ApiJsonContext.Default.PublishRequest, TestContext.Current.CancellationToken);
                Assert.True(r.IsSuccessStatusCode, await r.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
            }
        }

        Assert.Equal(0, lab.Cli(TimeSpan.FromMinutes(1), "publish", "range", "--netns", lab.Container, "-p", "31500-31599:31500-31599").Code);
        Snapshot before = await Take(lab);
        Assert.Equal(Count + 1, before.Publications.Count);
        Assert.Equal(before.Ports, before.Listeners); // one listening socket per TCP port: pairs share one

        lab.StopService(kill: true);
        await lab.StartServiceAsync();
        Snapshot afterKill = await Take(lab);
        Assert.Equal(before, afterKill);

        lab.StopService(kill: false);
        await lab.StartServiceAsync();
        Snapshot afterStop = await Take(lab);
        Assert.Equal(before, afterStop);

        using Peer web = Peer.TcpServer(lab.ContainerNs, ContainerV4, 80);
        using Peer web6 = Peer.TcpServer(lab.ContainerNs, ThreeNamespaces.ContainerV6, 80);
        Assert.Equal($"peer={ClientV4}", await Peer.AskTcp(lab.ClientNs, HostV4, 31001));
        Assert.Equal($"peer={ThreeNamespaces.ClientV6}", await Peer.AskTcp(lab.ClientNs, ThreeNamespaces.HostV6, 31299));
        Assert.Equal($"peer={ThreeNamespaces.ContainerV6}", await Peer.AskTcp(lab.HostNs, "::1", 31002));
        Assert.Equal($"peer={ContainerV4}", await Peer.AskTcp(lab.HostNs, "127.0.0.1", 31002));
    }

    private static async Task<Snapshot> Take(Lab lab)
    {
        using HttpClient http = Client(lab);
        List<PublicationDto> all = (await http.GetFromJsonAsync("v1/publications", ApiJsonContext.Default.ListPublicationDto, TestContext.Current.CancellationToken))!;
        var publications = all.ToDictionary(p => p.Name, p => JsonSerializer.Serialize(p, ApiJsonContext.Default.PublicationDto));
        int tcpPorts = all.SelectMany(p => p.Bindings).Where(b => b.Protocol == "tcp").Select(b => (b.HostIp is "0.0.0.0" or "::" ? "*" : b.HostIp, b.HostPort)).Distinct().Count();
        int listeners = lab.InHost("ss -Hlnt '( sport >= :30000 and sport <= :31599 )'").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        int elements = Key().Count(lab.InHost("nft list map ip portpublisher published_any") + lab.InHost("nft list map ip6 portpublisher published_any")
            + lab.InHost("nft list map ip portpublisher published") + lab.InHost("nft list map ip6 portpublisher published"));
        return new Snapshot(publications, tcpPorts, listeners, elements);
    }

    private static HttpClient Client(Lab lab) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(lab.Socket), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    })
    {
        BaseAddress = new Uri("http://portpublisher/"),
        Timeout = TimeSpan.FromSeconds(30),
    };

    [GeneratedRegex(@"(tcp|udp) \. \d+ ")]
    private static partial Regex Key();

    /// <summary>What must survive a restart: every publication as the API shows it, and what the kernel holds for them.</summary>
    private sealed record Snapshot(Dictionary<string, string> Publications, int Ports, int Listeners, int Elements)
    {
        public bool Equals(Snapshot? other) => other is not null && Ports == other.Ports && Listeners == other.Listeners && Elements == other.Elements
            && Publications.Count == other.Publications.Count && Publications.All(kv => other.Publications.TryGetValue(kv.Key, out string? v) && v == kv.Value);

        public override int GetHashCode() => HashCode.Combine(Ports, Listeners, Elements, Publications.Count);
    }
}
