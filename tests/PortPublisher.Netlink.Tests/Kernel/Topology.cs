using System.Diagnostics;
using Xunit;

namespace PortPublisher.Netlink.Tests.Kernel;

/// <summary>
/// Three throwaway namespaces joined by veth pairs, as in nft-prototype.sh, named with a unique prefix and deleted
/// on dispose (also after a failed test). Nothing touches the root namespace's ruleset or sysctls.
/// <code>
///   client  vx1 192.0.2.2/24  2001:db8::2/64  -- veth --  vx0 192.0.2.1/24 2001:db8::1/64   host
///                                                          vh0 10.99.0.1/24 fd00:99::1/64
///   container vc0 10.99.0.2/24 fd00:99::2/64  -- veth --  (vh0)
/// </code>
/// </summary>
internal sealed class Topology : IDisposable
{
    public const string HostV4 = "192.0.2.1";
    public const string ClientV4 = "192.0.2.2";
    public const string HostToContainerV4 = "10.99.0.1";
    public const string ContainerV4 = "10.99.0.2";
    public const string HostV6 = "2001:db8::1";
    public const string ClientV6 = "2001:db8::2";
    public const string ContainerV6 = "fd00:99::2";

    private readonly List<NetworkNamespace> _handles = [];

    private Topology(string id)
    {
        Id = id;
        Host = $"{id}h";
        Container = $"{id}c";
        Client = $"{id}x";
    }

    public string Id { get; }

    public string Host { get; }

    public string Container { get; }

    public string Client { get; }

    public NetworkNamespace HostNs { get; private set; } = null!;

    public NetworkNamespace ContainerNs { get; private set; } = null!;

    public NetworkNamespace ClientNs { get; private set; } = null!;

    /// <summary>Skips the calling test, with the reason, where namespaces cannot be made (not root, no iproute2/nftables).</summary>
    public static void RequirePrivileges()
    {
        if (Environment.UserName != "root" && Tmds.Linux.LibC.geteuid() != 0)
        {
            Assert.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) to create network namespaces; CI runs as root");
        }

        foreach (string tool in new[] { "/usr/sbin/ip", "/usr/sbin/nft" })
        {
            if (!File.Exists(tool) && !File.Exists(tool.Replace("/usr/sbin/", "/sbin/", StringComparison.Ordinal)))
            {
                Assert.Skip($"needs {Path.GetFileName(tool)} (Debian packages iproute2, nftables; scripts/test.sh installs them)");
            }
        }
    }

    /// <summary>Only the host namespace, for tests that need no traffic.</summary>
    public static Topology CreateHostOnly()
    {
        RequirePrivileges();
        var t = new Topology(NewId());
        try
        {
            Sh($"ip netns add {t.Host}");
            Sh($"ip -n {t.Host} link set lo up");
            t.HostNs = t.Open(t.Host);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    public static Topology Create()
    {
        RequirePrivileges();
        var t = new Topology(NewId());
        try
        {
            string h = t.Host, c = t.Container, x = t.Client;
            foreach (string ns in new[] { h, c, x })
            {
                Sh($"ip netns add {ns}");
                // No duplicate address detection: the first IPv6 connections would race it.
                Sh($"ip netns exec {ns} sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0");
                Sh($"ip -n {ns} link set lo up");
            }

            Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
            Sh($"ip -n {h} link add vx0 type veth peer name vx1 netns {x}");
            Sh($"ip -n {h} addr add {HostToContainerV4}/24 dev vh0");
            Sh($"ip -n {h} addr add {HostV4}/24 dev vx0");
            Sh($"ip -n {h} addr add fd00:99::1/64 dev vh0 nodad");
            Sh($"ip -n {h} addr add {HostV6}/64 dev vx0 nodad");
            Sh($"ip -n {h} link set vh0 up");
            Sh($"ip -n {h} link set vx0 up");
            Sh($"ip -n {c} addr add {ContainerV4}/24 dev vc0");
            Sh($"ip -n {c} addr add {ContainerV6}/64 dev vc0 nodad");
            Sh($"ip -n {c} link set vc0 up");
            Sh($"ip -n {c} route add default via {HostToContainerV4}");
            Sh($"ip -n {c} -6 route add default via fd00:99::1");
            Sh($"ip -n {x} addr add {ClientV4}/24 dev vx1");
            Sh($"ip -n {x} addr add {ClientV6}/64 dev vx1 nodad");
            Sh($"ip -n {x} link set vx1 up");
            Sh($"ip -n {x} route add default via {HostV4}");
            Sh($"ip -n {x} -6 route add default via {HostV6}");

            // The host namespace forwards, and lets 127.0.0.1 be DNAT'ed to the container (route_localnet).
            Sh($"ip netns exec {h} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.route_localnet=1");
            t.HostNs = t.Open(h);
            t.ContainerNs = t.Open(c);
            t.ClientNs = t.Open(x);
            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary><c>nft -j list ruleset</c> in the host namespace.</summary>
    public string NftJson(string? ns = null) => Sh($"ip netns exec {ns ?? Host} nft -j list ruleset");

    /// <summary>Runs a command inside a namespace of this topology.</summary>
    public string Exec(string ns, string command) => Sh($"ip netns exec {ns} {command}");

    public void Dispose()
    {
        foreach (NetworkNamespace n in _handles)
        {
            n.Dispose();
        }

        foreach (string ns in new[] { Host, Container, Client })
        {
            if (File.Exists(Path.Combine(NetworkNamespace.NetnsRunDir, ns)))
            {
                TrySh($"ip netns pids {ns} | xargs -r kill");
                TrySh($"ip netns del {ns}");
            }
        }
    }

    public static string Sh(string command)
    {
        (int code, string stdout, string stderr) = Run(command);
        if (code != 0)
        {
            throw new InvalidOperationException($"`{command}` exited {code}: {stderr.Trim()}");
        }

        return stdout;
    }

    public static (int Code, string Stdout, string Stderr) Run(string command)
    {
        var psi = new ProcessStartInfo("/bin/sh", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{command}` did not finish in 30 s");
        }

        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static void TrySh(string command)
    {
        try
        {
            Run(command);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }
    }

    private NetworkNamespace Open(string name)
    {
        NetworkNamespace ns = NetworkNamespace.Open(name);
        _handles.Add(ns);
        return ns;
    }

    // "pp" + 6 hex: unique per test, short enough for interface names.
    private static string NewId() => $"pp{Random.Shared.Next(0x1000000):x6}";
}
