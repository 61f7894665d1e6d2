using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PortPublisher.Netlink;
using Xunit;

namespace PortPublisher.Service.Tests;

/// <summary>Shell commands, and test servers/clients whose sockets live in a chosen namespace.</summary>
internal static class Net
{
    public static (int Code, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null, int timeoutMs = 30_000)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (KeyValuePair<string, string> kv in env ?? new Dictionary<string, string>())
        {
            psi.Environment[kv.Key] = kv.Value;
        }

        using Process p = Process.Start(psi)!;
        Task<string> o = p.StandardOutput.ReadToEndAsync(), e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish");
        }

        return (p.ExitCode, o.Result, e.Result);
    }

    public static string Sh(string command)
    {
        (int code, string stdout, string stderr) = Run("/bin/sh", ["-c", command]);
        return code == 0 ? stdout : throw new InvalidOperationException($"`{command}` exited {code}: {stderr}");
    }

    public static void RequireRoot()
    {
        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("end-to-end tests need root to create network namespaces and run portpublisherd in them; CI runs as root");
        }
    }

    /// <summary>A TCP server in <paramref name="ns"/> that writes "peer=ADDR" and closes.</summary>
    public static Socket PeerServer(NetworkNamespace ns, string address, int port, CancellationToken ct, Func<Socket, Task>? handler = null)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        Socket l = ns.Run(() =>
        {
            var s = new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            s.Bind(ep);
            s.Listen(128);
            return s;
        });
        handler ??= async c =>
        {
            await c.SendAsync(Encoding.ASCII.GetBytes($"peer={((IPEndPoint)c.RemoteEndPoint!).Address}\n"));
            c.Shutdown(SocketShutdown.Both);
        };
        _ = Task.Run(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                Socket c;
                try
                {
                    c = await l.AcceptAsync(ct);
                }
                catch (Exception)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using (c)
                    {
                        try
                        {
                            await handler(c);
                        }
                        catch (Exception)
                        {
                        }
                    }
                });
            }
        }, ct);
        return l;
    }

    public static Socket UdpPeerServer(NetworkNamespace ns, string address, int port, CancellationToken ct)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        Socket s = ns.Run(() =>
        {
            var u = new Socket(ep.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            u.Bind(ep);
            return u;
        });
        _ = Task.Run(async () =>
        {
            var b = new byte[512];
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    SocketReceiveFromResult r = await s.ReceiveFromAsync(b, SocketFlags.None, new IPEndPoint(ep.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0), ct);
                    await s.SendToAsync(Encoding.ASCII.GetBytes($"peer={((IPEndPoint)r.RemoteEndPoint).Address}\n"), r.RemoteEndPoint);
                }
                catch (Exception)
                {
                    return;
                }
            }
        }, ct);
        return s;
    }

    public static async Task<string> AskTcp(NetworkNamespace ns, string address, int port, int timeoutMs = 3000)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        using Socket s = ns.Run(() => new Socket(ep.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
        using var cts = new CancellationTokenSource(timeoutMs);
        await s.ConnectAsync(ep, cts.Token);
        var buffer = new byte[256];
        int total = 0, n;
        while ((n = await s.ReceiveAsync(buffer.AsMemory(total), SocketFlags.None, cts.Token)) > 0)
        {
            total += n;
        }

        return Encoding.ASCII.GetString(buffer, 0, total).Trim();
    }

    public static async Task<string> AskUdp(NetworkNamespace ns, string address, int port, int timeoutMs = 3000)
    {
        var ep = new IPEndPoint(IPAddress.Parse(address), port);
        using Socket s = ns.Run(() => new Socket(ep.AddressFamily, SocketType.Dgram, ProtocolType.Udp));
        await s.SendToAsync("q"u8.ToArray(), ep);
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(timeoutMs);
        int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.ASCII.GetString(buffer, 0, n).Trim();
    }

    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took.</summary>
    public static async Task<TimeSpan> Eventually(Func<Task<bool>> condition, int timeoutMs = 5000)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            if (sw.ElapsedMilliseconds > timeoutMs)
            {
                Assert.Fail($"condition not met within {timeoutMs} ms");
            }

            await Task.Delay(25);
        }

        return sw.Elapsed;
    }
}
