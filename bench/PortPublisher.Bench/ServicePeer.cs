namespace PortPublisher.Bench;

/// <summary>
/// One column of the service comparison: where its client connects (an address and a port per backend) and which
/// processes are its proxy (none for the kernel paths). A class: it keys the result dictionaries by reference.
/// </summary>
internal sealed class ServicePeer(string key, string name, BenchTopology topology, string target, int iperfPort, int httpPort, int? dnsPort, int? udpIperfPort, Func<IReadOnlyList<int>> pids)
{
    /// <summary>The name --only selects it by (direct, nft, docker, haproxy, proxy, nat).</summary>
    public string Key => key;

    public string Name => name;

    public BenchTopology Topology => topology;

    /// <summary>The address the client connects to: the host's, or the container's for direct routing.</summary>
    public string Target => target;

    public int IperfPort => iperfPort;

    public int HttpPort => httpPort;

    /// <summary>The UDP port dnsmasq is reached through; null where the peer carries no UDP (haproxy).</summary>
    public int? DnsPort => dnsPort;

    /// <summary>The UDP port iperf3's server is reached through (its TCP control connection uses <see cref="IperfPort"/>).</summary>
    public int? UdpIperfPort => udpIperfPort;

    /// <summary>The processes whose CPU time, memory and syscalls are the proxy's; empty for direct routing and NAT.</summary>
    public IReadOnlyList<int> Pids => pids();

    public bool IsProxy => Pids.Count > 0;

    public string Url => $"http://{Target}:{HttpPort}/f";
}
