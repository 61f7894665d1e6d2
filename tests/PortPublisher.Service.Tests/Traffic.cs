using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using PortPublisher.Netlink;
using PortPublisher.TestKit;

namespace PortPublisher.Service.Tests;

/// <summary>
/// Backends for the container namespace and clients for the client namespace, written here rather than borrowed from
/// iperf3 or wrk so the tests need only what the lab has: a counting sink (bulk streams), an HTTP/1.1-ish server
/// (keep-alive or close), a holder (connections that stay open) and a checksummed source. Every client call takes a
/// token; a cancelled one is a stalled relay.
/// </summary>
internal static class Traffic
{
    /// <summary>What the HTTP backend answers; a client knows the exact length to read.</summary>
    public static readonly byte[] Response = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + new string('x', 100));

    private static readonly byte[] s_getKeepAlive = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: backend\r\n\r\n");
    private static readonly byte[] s_getClose = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n");

    /// <summary>Reads until EOF, then answers the byte count (8 bytes, big endian) and closes.</summary>
    public static Peer CountingSink(NetworkNamespace ns, string address, int port) => Peer.TcpServer(ns, address, port, async c =>
    {
        var buffer = new byte[65536];
        long total = 0;
        int n;
        while ((n = await c.ReceiveAsync(buffer)) > 0)
        {
            total += n;
        }

        var answer = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(answer, total);
        await c.SendAsync(answer);
        c.Shutdown(SocketShutdown.Both);
    });

    /// <summary>Answers every request (headers up to a blank line) with <see cref="Response"/>; "Connection: close" ends the connection.</summary>
    public static Peer Http(NetworkNamespace ns, string address, int port) => Peer.TcpServer(ns, address, port, async c =>
    {
        var buffer = new byte[4096];
        int have = 0;
        while (true)
        {
            int end;
            while ((end = buffer.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
            {
                int n = have < buffer.Length ? await c.ReceiveAsync(buffer.AsMemory(have)) : 0;
                if (n == 0)
                {
                    return;
                }

                have += n;
            }

            end += 4;
            bool close = buffer.AsSpan(0, end).IndexOf("Connection: close"u8) >= 0;
            await c.SendAsync(Response);
            buffer.AsSpan(end, have - end).CopyTo(buffer);
            have -= end;
            if (close)
            {
                c.Shutdown(SocketShutdown.Both);
                return;
            }
        }
    }, backlog: 512);

    /// <summary>Accepts and holds every connection until the peer closes it (or the server is disposed).</summary>
    public static Peer Holder(NetworkNamespace ns, string address, int port) => Peer.TcpServer(ns, address, port, async c =>
    {
        var buffer = new byte[16];
        while (await c.ReceiveAsync(buffer) > 0)
        {
        }
    }, backlog: 1024);

    /// <summary>
    /// Sends <paramref name="chunks"/> MiB of pseudo-random data to each client (each MiB stamped with its index, so a
    /// lost or repeated chunk changes the hash), awaiting <paramref name="gate"/> before each chunk; the SHA-256 of what
    /// it sent lands in <paramref name="sent"/>.
    /// </summary>
    public static Peer Source(NetworkNamespace ns, string address, int port, int chunks, Func<CancellationToken, Task> gate, TaskCompletionSource<string> sent, CancellationToken ct) =>
        Peer.TcpServer(ns, address, port, async c =>
        {
            var chunk = new byte[1 << 20];
            new Random(9).NextBytes(chunk);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            try
            {
                for (int i = 0; i < chunks; i++)
                {
                    await gate(ct);
                    BinaryPrimitives.WriteInt64BigEndian(chunk, i);
                    sha.AppendData(chunk);
                    await c.SendAsync(chunk, ct);
                }

                c.Shutdown(SocketShutdown.Send);
                sent.TrySetResult(Convert.ToHexStringLower(sha.GetHashAndReset()));
            }
            catch (Exception e)
            {
                sent.TrySetException(e);
                throw;
            }
        });

    /// <summary>Reads a stream to its end: (bytes, SHA-256).</summary>
    public static async Task<(long Bytes, string Sha256)> Receive(Socket s, CancellationToken ct)
    {
        var buffer = new byte[1 << 18];
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        int n;
        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            total += n;
        }

        return (total, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    /// <summary>Streams <paramref name="bytes"/> to a <see cref="CountingSink"/> and returns the count it confirms.</summary>
    public static async Task<long> Bulk(ClientSockets sockets, IPEndPoint ep, long bytes, CancellationToken ct)
    {
        using Socket s = sockets.Next();
        await s.ConnectAsync(ep, ct);
        var chunk = new byte[65536];
        for (long sent = 0; sent < bytes; sent += chunk.Length)
        {
            await s.SendAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, bytes - sent)), SocketFlags.None, ct);
        }

        s.Shutdown(SocketShutdown.Send);
        var answer = new byte[8];
        await ReceiveExactly(s, answer, ct);
        return BinaryPrimitives.ReadInt64BigEndian(answer);
    }

    /// <summary>Connect, one request with "Connection: close", the whole response, close.</summary>
    public static async Task HttpOnce(ClientSockets sockets, IPEndPoint ep, CancellationToken ct)
    {
        using Socket s = sockets.Next();
        await s.ConnectAsync(ep, ct);
        await s.SendAsync(s_getClose, SocketFlags.None, ct);
        var got = new byte[Response.Length];
        await ReceiveExactly(s, got, ct);
        if (!got.AsSpan().SequenceEqual(Response))
        {
            throw new InvalidDataException("the HTTP backend's answer arrived changed");
        }
    }

    /// <summary>One connection, <paramref name="requests"/> requests one after the other.</summary>
    public static async Task HttpKeepAlive(ClientSockets sockets, IPEndPoint ep, int requests, CancellationToken ct)
    {
        using Socket s = sockets.Next();
        await s.ConnectAsync(ep, ct);
        var got = new byte[Response.Length];
        for (int i = 0; i < requests; i++)
        {
            await s.SendAsync(s_getKeepAlive, SocketFlags.None, ct);
            await ReceiveExactly(s, got, ct);
        }
    }

    private static async Task ReceiveExactly(Socket s, byte[] into, CancellationToken ct)
    {
        for (int have = 0; have < into.Length;)
        {
            int n = await s.ReceiveAsync(into.AsMemory(have), SocketFlags.None, ct);
            have += n > 0 ? n : throw new SocketException((int)SocketError.ConnectionReset); // EOF before the whole answer
        }
    }
}

/// <summary>
/// TCP sockets made inside a namespace 64 at a time: <see cref="NetworkNamespace.Run{T}"/> starts a thread per call,
/// which would otherwise dominate a loop of short connections.
/// </summary>
internal sealed class ClientSockets(NetworkNamespace ns, AddressFamily family = AddressFamily.InterNetwork) : IDisposable
{
    private readonly Queue<Socket> _ready = new();

    public Socket Next()
    {
        lock (_ready)
        {
            if (_ready.Count == 0)
            {
                foreach (Socket s in ns.Run(() => Enumerable.Range(0, 64).Select(_ => new Socket(family, SocketType.Stream, ProtocolType.Tcp)).ToArray()))
                {
                    _ready.Enqueue(s);
                }
            }

            return _ready.Dequeue();
        }
    }

    public void Dispose()
    {
        lock (_ready)
        {
            while (_ready.TryDequeue(out Socket? s))
            {
                s.Dispose();
            }
        }
    }
}
