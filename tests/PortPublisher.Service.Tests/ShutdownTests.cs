using System.Net;
using System.Net.Sockets;
using PortPublisher.TestKit;
using Xunit;
using static PortPublisher.Service.Tests.Lab;

namespace PortPublisher.Service.Tests;

/// <summary>A clean stop under load: SIGTERM ends the daemon promptly, proxied connections go with it, NAT stays.</summary>
[Trait("Category", "Netns")]
[Collection(Exclusive.Name)]
public sealed class ShutdownTests
{
    [Fact]
    public async Task Sigterm_With1000ProxiedConnectionsOpen_ExitsWithin5sAndLeavesTheNatTables()
    {
        const int Held = 1000;
        await using Lab lab = await Lab.StartAsync();
        var deadline = TimeSpan.FromSeconds(15);
        using Peer holder = Traffic.Holder(lab.ContainerNs, ContainerV4, 7000);
        Assert.Equal(0, lab.Cli(deadline, "publish", "held", "--netns", lab.Container, "--mode", "proxy", "-p", "0.0.0.0:17000:7000").Code);
        Assert.Equal(0, lab.Cli(deadline, "publish", "nat", "--netns", lab.Container, "-p", "18000:80", "-p", "127.0.0.1:18001:80").Code);
        HashSet<string> elements = Agreement.ExpectedElements(Agreement.Bindings(lab));
        Assert.Equal(elements, Agreement.Elements(lab));

        Socket[] clients = lab.ClientNs.Run(() => Enumerable.Range(0, Held).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToArray());
        try
        {
            var ep = new IPEndPoint(IPAddress.Parse(HostV4), 17000);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (Socket[] batch in clients.Chunk(100))
            {
                await Task.WhenAll(batch.Select(s => s.ConnectAsync(ep, cts.Token).AsTask()));
            }

            // Every connection reached the backend: the proxy holds 1,000 relays, each with its two sockets.
            await Net.Eventually(() => holder.Accepted == Held, 30_000, () => $"{Held} connections relayed to the backend (so far {holder.Accepted})");

            Assert.True(lab.StopService(kill: false, timeoutMs: 5000), $"portpublisherd still running 5 s after SIGTERM with {Held} proxied connections open\n{lab.Log[Math.Max(0, lab.Log.Length - 3000)..]}");
            Assert.Equal(elements, Agreement.Elements(lab));
        }
        finally
        {
            foreach (Socket s in clients)
            {
                s.Dispose();
            }
        }
    }
}
