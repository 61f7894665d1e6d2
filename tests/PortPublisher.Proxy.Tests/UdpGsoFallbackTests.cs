using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>UDP GSO where the path cannot take it: a namespace of the test's own, whose lo has a small MTU.</summary>
[Trait("Category", "Netns")]
[Collection(SpawnsProcesses.Name)]
public sealed class UdpGsoFallbackTests
{
    [Theory]
    [InlineData(false)] // the client's datagrams, to the target: the flow remembers
    [InlineData(true)] // the target's replies, to the client: the client's path remembers
    public async Task ABurstWhoseSegmentsExceedThePathMtu_IsSentDatagramByDatagram_AndThePathStopsTryingThatSize(bool replies)
    {
        // lo at MTU 1280 in a namespace of the test's own: a 1,400-byte segment cannot be GSO'ed (EMSGSIZE), but the
        // datagrams themselves can go, fragmented, as they always could.
        using LoopbackNamespace lab = LoopbackNamespace.Create(replies ? 'r' : 'g');
        LoopbackNamespace.Run($"ip -n {lab.Name} link set lo mtu 1280");
        using var sockets = new NamespaceSocketFactory(lab.Namespace);
        using var loop = new Internal.EventLoop("test loop gso mtu");
        using Socket target = UdpBurst.Bound(sockets, IPAddress.Loopback), client = UdpBurst.Bound(sockets, IPAddress.Loopback);
        await using var proxy = new UserlandProxy(null, null, [loop]);
        ProxyBinding binding = proxy.Start(UdpBurst.Bound(sockets, IPAddress.Loopback), new ProxyTarget((IPEndPoint)target.LocalEndPoint!, sockets));
        var listen = (IPEndPoint)binding.Listen;
        await client.SendToAsync(new byte[] { 0xFF }, listen);
        (byte[] first, IPEndPoint flow) = await UdpBurst.ReceiveFrom(target);
        Assert.Equal([0xFF], first);
        for (int burst = 0; burst < 2; burst++)
        {
            byte[][] datagrams = [.. Enumerable.Range(0, 3).Select(i => Enumerable.Repeat((byte)(10 * burst + i), 1400).ToArray())];
            await (replies
                ? UdpBurst.SendHeldAndExpect(loop, target, flow, client, datagrams, from: listen)
                : UdpBurst.SendHeldAndExpect(loop, client, listen, target, datagrams));
        }

        // A refused size is not a refused path: smaller segments, which fit the MTU, still go as one send.
        byte[][] small = [.. Enumerable.Range(0, 3).Select(i => Enumerable.Repeat((byte)(100 + i), 1000).ToArray())];
        await (replies
            ? UdpBurst.SendHeldAndExpect(loop, target, flow, client, small, from: listen)
            : UdpBurst.SendHeldAndExpect(loop, client, listen, target, small));

        (long segmented, long refused) = (-1, -1);
        await loop.InvokeAsync(() => (segmented, refused) = (loop.Datagrams.GsoDatagrams, loop.Datagrams.GsoRefused)).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        Assert.Equal(3, segmented); // the 1,000-byte burst only
        Assert.Equal(1, refused); // the first burst asked; the second did not
        ProxyCountersSnapshot counters = binding.Counters.Snapshot();
        int carried = (6 * 1400) + (3 * 1000);
        Assert.Equal(replies ? (1, carried) : (1 + carried, 0), (counters.BytesToTarget, counters.BytesToClient));
        Assert.Equal(0, counters.Errors.GetValueOrDefault(ProxyErrorKind.SendFailed));
    }
}
