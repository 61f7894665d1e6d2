using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using PortPublisher.Netlink;
using PortPublisher.Proxy;

namespace PortPublisher.Bench;

/// <summary>
/// Runs our proxy as its own process (so its RSS and CPU can be read like a peer's):
/// <c>proxy-serve LISTEN_IP:PORT TARGET_IP:PORT TARGET_NETNS [copy|splice] [LISTEN:TARGET …]</c>.
/// Prints "ready" once listening; exits on SIGTERM or when stdin closes.
/// </summary>
internal static class ProxyServe
{
    public static async Task<int> Run(string[] args)
    {
        string netns = args[3];
        bool zeroCopy = args.Length <= 4 || args[4] != "copy";
        using NetworkNamespace ns = NetworkNamespace.Open(netns);
        using var sockets = new NamespaceSocketFactory(ns);
        await using var proxy = new UserlandProxy();
        var pairs = new List<(string Listen, string Target)> { (args[1], args[2]) };
        for (int i = 5; i < args.Length; i++)
        {
            string[] lt = args[i].Split('=');
            pairs.Add((lt[0], lt[1]));
        }

        foreach ((string listen, string target) in pairs)
        {
            IPEndPoint l = IPEndPoint.Parse(listen), t = IPEndPoint.Parse(target);
            var socket = new Socket(l.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            socket.Bind(l);
            proxy.Start(socket, new ProxyTarget(t, sockets), new ProxyBindingOptions { ZeroCopy = zeroCopy, MaxConnections = 65536 });
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"ready {Environment.ProcessId}"));
        var done = new TaskCompletionSource();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            done.TrySetResult();
        });
        _ = Task.Run(() =>
        {
            // "gc" on stdin: a full, compacting collection, so RSS shows live memory (the benchmark's idle-connection cost).
            string? line;
            while ((line = Console.In.ReadLine()) is not null)
            {
                if (line == "gc")
                {
                    GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                    GC.WaitForPendingFinalizers();
                    Console.WriteLine("gc-done");
                }
            }

            done.TrySetResult();
        });
        await done.Task;
        return 0;
    }
}
