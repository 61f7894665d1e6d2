using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink;
using PortPublisher.Proxy.Internal;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>
/// Replies of several clients leave a listener in one sendmmsg; an error that belongs to one client's destination must
/// cost only that client's replies. In a namespace of the test's own, whose nftables output chain refuses one client.
/// </summary>
[Trait("Category", "Netns")]
[Collection(SpawnsProcesses.Name)]
public sealed class UdpReplyIsolationTests
{
    [Fact]
    public async Task OneClientsDestinationRefusingItsReply_DoesNotDropTheRepliesQueuedAfterIt()
    {
        using LoopbackNamespace lab = LoopbackNamespace.Create('i');
        using var sockets = new NamespaceSocketFactory(lab.Namespace);
        using var loop = new EventLoop("test loop reply isolation");
        using Socket target = UdpBurst.Bound(sockets, IPAddress.Loopback), refused = UdpBurst.Bound(sockets, IPAddress.Parse("127.0.0.3")), client = UdpBurst.Bound(sockets, IPAddress.Loopback);
        await using var proxy = new UserlandProxy(null, null, [loop]);
        ProxyBinding binding = proxy.Start(UdpBurst.Bound(sockets, IPAddress.Any), new ProxyTarget((IPEndPoint)target.LocalEndPoint!, sockets));
        var listen = new IPEndPoint(IPAddress.Loopback, ((IPEndPoint)binding.Listen).Port);
        var flows = new List<IPEndPoint>();
        foreach (Socket c in new[] { refused, client })
        {
            await c.SendToAsync(new byte[] { 0xFF }, listen);
            (_, IPEndPoint flow) = await UdpBurst.ReceiveFrom(target);
            flows.Add(flow);
        }

        // sendmsg to 127.0.0.3 from the listener now fails with EPERM: that client's error, not the listener's.
        LoopbackNamespace.Run($"ip netns exec {lab.Name} nft 'add table ip ppiso; add chain ip ppiso out {{ type filter hook output priority 0; }}; add rule ip ppiso out ip daddr 127.0.0.3 udp sport {listen.Port} drop'");
        using var release = new ManualResetEventSlim();
        try
        {
            await LoopHold.Hold(loop, release);
            await target.SendToAsync(new byte[100], flows[0]); // queued first, so its failure comes first
            for (int i = 0; i < 3; i++)
            {
                await target.SendToAsync(Enumerable.Repeat((byte)(i + 1), 100).ToArray(), flows[1]);
            }
        }
        finally
        {
            release.Set();
        }

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(Enumerable.Repeat((byte)(i + 1), 100).ToArray(), await UdpBurst.Receive(client));
        }

        ProxyCountersSnapshot? counters = null;
        await loop.InvokeAsync(() => counters = binding.Counters.Snapshot()).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken); // after the pass that sent them
        Assert.Equal((300, 1), (counters!.BytesToClient, counters.Errors.GetValueOrDefault(ProxyErrorKind.SendFailed)));
    }
}
