using Prometheus;

namespace PortPublisher.Service.Metrics;

/// <summary>
/// The per-publication traffic counters. Their label set is decided once, at start: a <c>host_port</c> label only
/// with MetricsPerBinding (a 10,000-port range then costs 10,000 series per metric), and otherwise no such label at all
/// rather than one that is always empty. The names are the same either way; dashboards that sum over host_port work
/// with both.
/// </summary>
internal sealed class TrafficMetrics
{
    public const string HostPortLabel = "host_port";

    public TrafficMetrics(bool perBinding)
    {
        PerBinding = perBinding;
        ProxyBytes = Prometheus.Metrics.CreateCounter("portpublisher_proxy_bytes_total", "Bytes relayed by the userland proxy.", Labels("publication", "protocol", "direction"));
        ProxyActive = Prometheus.Metrics.CreateGauge("portpublisher_proxy_connections_active", "Open proxied TCP connections or UDP flows.", Labels("publication", "protocol"));
        ProxyConnections = Prometheus.Metrics.CreateCounter("portpublisher_proxy_connections_total", "Proxied TCP connections or UDP flows opened.", Labels("publication", "protocol"));
        NatConnections = Prometheus.Metrics.CreateCounter("portpublisher_nat_connections_total", "New connections (first packets) DNAT'ed, from the nftables element counters.", Labels("publication", "protocol"));
        NatFirstPacketBytes = Prometheus.Metrics.CreateCounter("portpublisher_nat_first_packet_bytes_total", "Bytes of the first packets of DNAT'ed connections (NAT sees only those).", Labels("publication", "protocol"));
    }

    /// <summary>Whether the series carry <see cref="HostPortLabel"/>.</summary>
    public bool PerBinding { get; }

    public Counter ProxyBytes { get; }

    public Gauge ProxyActive { get; }

    public Counter ProxyConnections { get; }

    public Counter NatConnections { get; }

    public Counter NatFirstPacketBytes { get; }

    /// <summary>The label values for one series: <paramref name="values"/>, then the host port when the label exists.</summary>
    public string[] Values(string hostPort, params string[] values) => PerBinding ? [.. values, hostPort] : values;

    private string[] Labels(params string[] names) => PerBinding ? [.. names, HostPortLabel] : names;
}
