using PortPublisher.Netlink;
using static PortPublisher.TestKit.Shell;

namespace PortPublisher.TestKit;

/// <summary>
/// Throwaway namespaces joined by veth pairs, as in nft-prototype.sh, named with a unique prefix and deleted on dispose
/// (also after a failed test). Nothing touches the root namespace's ruleset or sysctls.
/// <code>
///   client  vx1 192.0.2.2/24  2001:db8::2/64  -- veth --  vx0 192.0.2.1/24 2001:db8::1/64   host
///                                                          vh0 10.99.0.1/24 fd00:99::1/64
///   container vc0 10.99.0.2/24 fd00:99::2/64  -- veth --  (vh0)
/// </code>
/// </summary>
public sealed class ThreeNamespaces : IDisposable
{
    public const string HostV4 = "192.0.2.1";
    public const string ClientV4 = "192.0.2.2";
    public const string HostToContainerV4 = "10.99.0.1";
    public const string ContainerV4 = "10.99.0.2";
    public const string HostV6 = "2001:db8::1";
    public const string ClientV6 = "2001:db8::2";
    public const string ContainerV6 = "fd00:99::2";

    private readonly List<NetworkNamespace> _handles = [];
    private readonly List<string> _extra = [];

    private ThreeNamespaces(string id)
    {
        Id = id;
        Host = $"{id}h";
        Container = $"{id}c";
        Client = $"{id}x";
    }

    /// <summary>"pp" + 6 hex: unique per test, short enough to prefix interface and namespace names.</summary>
    public string Id { get; }

    public string Host { get; }

    public string Container { get; }

    public string Client { get; }

    public NetworkNamespace HostNs { get; private set; } = null!;

    public NetworkNamespace ContainerNs { get; private set; } = null!;

    public NetworkNamespace ClientNs { get; private set; } = null!;

    /// <summary>Only the host namespace, for tests that need no traffic.</summary>
    public static ThreeNamespaces CreateHostOnly() => Create(hostOnly: true);

    /// <param name="hostOnly">Only the host namespace.</param>
    /// <param name="containerIPv6">Give the container an IPv6 address too (false: an IPv4-only container, as Docker's default bridge).</param>
    /// <param name="forwarding">Set the host's ip_forward, IPv6 forwarding and route_localnet (a NAT backend test needs them; the service sets them itself).</param>
    public static ThreeNamespaces Create(bool hostOnly = false, bool containerIPv6 = true, bool forwarding = true)
    {
        var t = new ThreeNamespaces($"pp{Random.Shared.Next(0x1000000):x6}");
        try
        {
            t.Build(hostOnly, containerIPv6);
            if (forwarding && !hostOnly)
            {
                // The host namespace forwards, and lets 127.0.0.1 be DNAT'ed to the container (route_localnet).
                Sh($"ip netns exec {t.Host} sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.route_localnet=1");
            }

            return t;
        }
        catch
        {
            t.Dispose();
            throw;
        }
    }

    /// <summary>Another namespace with this prefix (lo up), deleted with the rest.</summary>
    public string AddNamespace(string suffix)
    {
        string name = $"{Id}{suffix}";
        Sh($"ip netns add {name} && ip -n {name} link set lo up");
        _extra.Add(name);
        return name;
    }

    /// <summary>Runs a command inside a namespace of this set.</summary>
    public string Exec(string ns, string command) => Sh($"ip netns exec {ns} {command}");

    /// <summary><c>nft -j list ruleset</c> in a namespace (the host by default).</summary>
    public string NftJson(string? ns = null) => Exec(ns ?? Host, "nft -j list ruleset");

    public void Dispose()
    {
        foreach (NetworkNamespace n in _handles)
        {
            n.Dispose();
        }

        foreach (string ns in new[] { Host, Container, Client }.Concat(_extra))
        {
            if (File.Exists(Path.Combine(NetworkNamespace.NetnsRunDir, ns)))
            {
                TrySh($"ip netns pids {ns} | xargs -r kill -9; ip netns del {ns}");
            }
        }
    }

    private void Build(bool hostOnly, bool containerIPv6)
    {
        string h = Host, c = Container, x = Client;
        foreach (string ns in hostOnly ? [h] : new[] { h, c, x })
        {
            Sh($"ip netns add {ns} && ip -n {ns} link set lo up");

            // No duplicate address detection: the first IPv6 connections would race it.
            Sh($"ip netns exec {ns} sysctl -qw net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_dad=0");
        }

        HostNs = Open(h);
        if (hostOnly)
        {
            return;
        }

        Sh($"ip -n {h} link add vh0 type veth peer name vc0 netns {c}");
        Sh($"ip -n {h} link add vx0 type veth peer name vx1 netns {x}");
        Sh($"ip -n {h} addr add {HostToContainerV4}/24 dev vh0 && ip -n {h} addr add {HostV4}/24 dev vx0");
        Sh($"ip -n {h} addr add fd00:99::1/64 dev vh0 nodad && ip -n {h} addr add {HostV6}/64 dev vx0 nodad");
        Sh($"ip -n {h} link set vh0 up && ip -n {h} link set vx0 up");
        Sh($"ip -n {c} addr add {ContainerV4}/24 dev vc0 && ip -n {c} link set vc0 up && ip -n {c} route add default via {HostToContainerV4}");
        if (containerIPv6)
        {
            Sh($"ip -n {c} addr add {ContainerV6}/64 dev vc0 nodad && ip -n {c} -6 route add default via fd00:99::1");
        }

        Sh($"ip -n {x} addr add {ClientV4}/24 dev vx1 && ip -n {x} addr add {ClientV6}/64 dev vx1 nodad && ip -n {x} link set vx1 up");
        Sh($"ip -n {x} route add default via {HostV4} && ip -n {x} -6 route add default via {HostV6}");
        ContainerNs = Open(c);
        ClientNs = Open(x);
    }

    private NetworkNamespace Open(string name)
    {
        NetworkNamespace ns = NetworkNamespace.Open(name);
        _handles.Add(ns);
        return ns;
    }
}
