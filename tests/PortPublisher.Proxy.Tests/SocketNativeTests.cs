using System.Net;
using System.Net.Sockets;
using PortPublisher.Proxy.Internal;
using Xunit;

namespace PortPublisher.Proxy.Tests;

/// <summary>The kernel behaviour the TCP reactor relies on to skip syscalls per connection.</summary>
public class SocketNativeTests
{
    [Fact]
    public unsafe void AcceptedSocketsInheritTcpNodelayFromTheListener_AndAreNonBlocking()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(8);
        listener.NoDelay = true;
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listener.LocalEndPoint!);

        Span<byte> peer = stackalloc byte[SocketNative.SockAddrSize];
        int fd = SocketNative.Accept((int)listener.SafeHandle.DangerousGetHandle(), peer);
        Assert.True(fd >= 0, $"accept4: errno {-fd}");
        try
        {
            int nodelay = 0;
            Tmds.Linux.socklen_t len = sizeof(int);
            Assert.Equal(0, Tmds.Linux.LibC.getsockopt(fd, 6 /* IPPROTO_TCP */, 1 /* TCP_NODELAY */, &nodelay, &len));
            Assert.NotEqual(0, nodelay);
            Assert.Equal(((IPEndPoint)client.LocalEndPoint!).Port, SocketNative.ReadSockAddr(peer)!.Port);

            // Nothing to read: a non-blocking socket says EAGAIN instead of waiting.
            Assert.Equal(-SocketNative.EAGAIN, SocketNative.Receive(fd, new byte[1]));
        }
        finally
        {
            SocketNative.Close(fd);
        }
    }

    [Fact]
    public unsafe void StockedTcpSocketsAreNonBlockingWithNodelay()
    {
        int fd = SocketNative.TcpSocket(AddressFamily.InterNetwork);
        Assert.True(fd >= 0, $"socket: errno {-fd}");
        try
        {
            int nodelay = 0;
            Tmds.Linux.socklen_t len = sizeof(int);
            Assert.Equal(0, Tmds.Linux.LibC.getsockopt(fd, 6, 1, &nodelay, &len));
            Assert.NotEqual(0, nodelay);
            int flags = Tmds.Linux.LibC.fcntl(fd, 3 /* F_GETFL */);
            Assert.NotEqual(0, flags & 0x800 /* O_NONBLOCK */);
            Assert.NotEqual(0, Tmds.Linux.LibC.fcntl(fd, 1 /* F_GETFD */) & 1 /* FD_CLOEXEC */);
        }
        finally
        {
            SocketNative.Close(fd);
        }
    }

    [Fact]
    public void TheWakeEventFdIsNonBlocking_SoADrainWithNothingToReadReturnsAtOnce()
    {
        int fd = SocketNative.EventFd();
        Assert.True(fd >= 0, $"eventfd: errno {-fd}");
        try
        {
            Assert.NotEqual(0, Tmds.Linux.LibC.fcntl(fd, 3 /* F_GETFL */) & 0x800 /* O_NONBLOCK */);
            Assert.Equal(-SocketNative.EAGAIN, SocketNative.EventFdDrain(fd)); // a blocking eventfd would hang here

            // Counter mode (no EFD_SEMAPHORE): one read takes every signal since the last, so one drain per pass is enough.
            SocketNative.EventFdSignal(fd);
            SocketNative.EventFdSignal(fd);
            Assert.Equal(8, SocketNative.EventFdDrain(fd));
            Assert.Equal(-SocketNative.EAGAIN, SocketNative.EventFdDrain(fd));
        }
        finally
        {
            SocketNative.Close(fd);
        }
    }
}
