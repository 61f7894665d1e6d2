using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink;
using PortPublisher.Proxy.Internal;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>A burst of datagrams that reaches a UDP binding while its loop is held, so one recvmmsg reads all of it.</summary>
internal static class UdpBurst
{
    /// <summary>
    /// Sends <paramref name="datagrams"/> from <paramref name="client"/> to <paramref name="listen"/> while
    /// <paramref name="loop"/> is held, then asserts that <paramref name="collector"/> receives each of them, whole and in
    /// order (and from <paramref name="from"/>, if given).
    /// </summary>
    public static async Task SendHeldAndExpect(EventLoop loop, Socket client, IPEndPoint listen, Socket collector, byte[][] datagrams, IPEndPoint? from = null)
    {
        using var release = new ManualResetEventSlim();
        try
        {
            await LoopHold.Hold(loop, release);
            foreach (byte[] datagram in datagrams)
            {
                await client.SendToAsync(datagram, listen);
            }
        }
        finally
        {
            release.Set();
        }

        foreach (byte[] datagram in datagrams)
        {
            (byte[] data, IPEndPoint source) = await ReceiveFrom(collector);
            Assert.Equal(datagram, data);
            if (from is not null)
            {
                Assert.Equal(from, source);
            }
        }
    }

    /// <summary>A UDP socket made by <paramref name="sockets"/> (in its namespace), bound to <paramref name="at"/> on a free port.</summary>
    public static Socket Bound(NamespaceSocketFactory sockets, IPAddress at)
    {
        Socket s = sockets.Create(at.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(at, 0));
        return s;
    }

    /// <summary>The next datagram <paramref name="collector"/> receives, within a deadline.</summary>
    public static async Task<byte[]> Receive(Socket collector) => (await ReceiveFrom(collector)).Data;

    /// <summary>The next datagram <paramref name="collector"/> receives, and where it came from, within a deadline.</summary>
    public static async Task<(byte[] Data, IPEndPoint From)> ReceiveFrom(Socket collector)
    {
        var buffer = new byte[65536];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        SocketReceiveFromResult r = await collector.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(collector.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0), cts.Token);
        return (buffer[..r.ReceivedBytes], (IPEndPoint)r.RemoteEndPoint);
    }
}
