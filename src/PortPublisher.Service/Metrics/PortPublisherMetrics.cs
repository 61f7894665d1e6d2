using Prometheus;

namespace PortPublisher.Service.Metrics;

/// <summary>
/// Every metric the service exports, in one place so the backend can be swapped (prometheus-net has had no release
/// since 2024). Labels come from closed sets (protocol, direction, carrier, kind) plus the publication name. The traffic
/// counters, which may carry a host_port label, are in <see cref="TrafficMetrics"/>.
/// </summary>
internal static class PortPublisherMetrics
{
    public static readonly Gauge Publications = Prometheus.Metrics.CreateGauge("portpublisher_publications", "Publications the service carries.");

    public static readonly Gauge Bindings = Prometheus.Metrics.CreateGauge("portpublisher_bindings", "Bindings by carrier and protocol.", "carrier", "protocol");

    public static readonly Counter ProxyErrors = Prometheus.Metrics.CreateCounter("portpublisher_proxy_errors_total", "Proxy errors by kind.", "publication", "kind");

    public static readonly Histogram TransactionSeconds = Prometheus.Metrics.CreateHistogram(
        "portpublisher_nftables_transaction_seconds",
        "Time to commit one nftables transaction.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0001, 4, 10) });

    public static readonly Counter Repairs = Prometheus.Metrics.CreateCounter("portpublisher_nftables_repairs_total", "Times the tables were found flushed or edited and rebuilt.");

    public static readonly Counter Errors = Prometheus.Metrics.CreateCounter("portpublisher_errors_total", "Failed requests by kind.", "kind");
}
