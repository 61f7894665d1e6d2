using Prometheus;

namespace PortPublisher.Service.Metrics;

/// <summary>
/// Every metric the service exports, in one place so the backend can be swapped (prometheus-net has had no release
/// since 2024). Labels come from closed sets (protocol, direction, carrier, kind) plus the publication name; a
/// per-host-port label exists only with MetricsPerBinding, so a 10,000-port range does not explode the series.
/// </summary>
internal static class PortPublisherMetrics
{
    public static readonly Gauge Publications = Prometheus.Metrics.CreateGauge("portpublisher_publications", "Publications the service carries.");

    public static readonly Gauge Bindings = Prometheus.Metrics.CreateGauge("portpublisher_bindings", "Bindings by carrier and protocol.", "carrier", "protocol");

    public static readonly Counter ProxyBytes = Prometheus.Metrics.CreateCounter("portpublisher_proxy_bytes_total", "Bytes relayed by the userland proxy.", "publication", "protocol", "direction", "host_port");

    public static readonly Gauge ProxyActive = Prometheus.Metrics.CreateGauge("portpublisher_proxy_connections_active", "Open proxied TCP connections or UDP flows.", "publication", "protocol", "host_port");

    public static readonly Counter ProxyConnections = Prometheus.Metrics.CreateCounter("portpublisher_proxy_connections_total", "Proxied TCP connections or UDP flows opened.", "publication", "protocol", "host_port");

    public static readonly Counter ProxyErrors = Prometheus.Metrics.CreateCounter("portpublisher_proxy_errors_total", "Proxy errors by kind.", "publication", "kind");

    public static readonly Counter NatConnections = Prometheus.Metrics.CreateCounter("portpublisher_nat_connections_total", "New connections (first packets) DNAT'ed, from the nftables element counters.", "publication", "protocol", "host_port");

    public static readonly Counter NatFirstPacketBytes = Prometheus.Metrics.CreateCounter("portpublisher_nat_first_packet_bytes_total", "Bytes of the first packets of DNAT'ed connections (NAT sees only those).", "publication", "protocol", "host_port");

    public static readonly Histogram TransactionSeconds = Prometheus.Metrics.CreateHistogram(
        "portpublisher_nftables_transaction_seconds",
        "Time to commit one nftables transaction.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 4, 10) });

    public static readonly Counter Repairs = Prometheus.Metrics.CreateCounter("portpublisher_nftables_repairs_total", "Times the tables were found flushed or edited and rebuilt.");

    public static readonly Counter Errors = Prometheus.Metrics.CreateCounter("portpublisher_errors_total", "Failed requests by kind.", "kind");
}
