using System.Net;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using PortPublisher.Proxy;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;
using Prometheus;

namespace PortPublisher.Service.Metrics;

/// <summary>
/// Fills the counters at scrape time from their sources: proxy counters (Interlocked, read lock-free) and the nftables
/// element counters (read over the service's second netlink socket). Counters are set to the source's totals with
/// IncTo, so a scrape never double-counts.
/// </summary>
internal sealed class MetricsCollector
{
    private readonly PublicationManager _manager;
    private readonly TrafficMetrics _traffic;
    private readonly object _lock = new();

    public MetricsCollector(PublicationManager manager, Microsoft.Extensions.Options.IOptions<PortPublisherOptions> options)
    {
        _manager = manager;
        _traffic = new TrafficMetrics(options.Value.MetricsPerBinding);
    }

    public void Register(CollectorRegistry registry) => registry.AddBeforeCollectCallback(Collect);

    private void Collect()
    {
        lock (_lock)
        {
            var snapshot = _manager.Snapshot;
            var owner = new Dictionary<(string Ip, ushort Port, string Proto), string>();
            foreach (PublicationDto p in snapshot)
            {
                foreach (BindingDto b in p.Bindings)
                {
                    owner[(b.HostIp, b.HostPort, b.Protocol)] = p.Name;
                }
            }

            foreach (Carrier carrier in new[] { Carrier.Nat, Carrier.Proxy })
            {
                foreach (string protocol in new[] { "tcp", "udp", "sctp" })
                {
                    PortPublisherMetrics.Bindings.WithLabels(carrier.ToName(), protocol).Set(snapshot.SelectMany(p => p.Bindings).Count(b => b.Carrier == carrier && b.Protocol == protocol));
                }
            }

            var proxyTotals = new Dictionary<(string, string, string), (long ToTarget, long ToClient, long Active, long Total)>();
            var errorTotals = new Dictionary<(string, ProxyErrorKind), long>();
            foreach (ProxyBinding binding in _manager.ProxyBindings)
            {
                var listen = (IPEndPoint)binding.Listen;
                if (!owner.TryGetValue((GoNet.FormatIP(listen.Address), (ushort)listen.Port, binding.Protocol), out string? publication))
                {
                    continue;
                }

                string port = _traffic.PerBinding ? listen.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty;
                ProxyCountersSnapshot c = binding.Counters.Snapshot();
                var key = (publication, binding.Protocol, port);
                proxyTotals.TryGetValue(key, out var t);
                proxyTotals[key] = (t.ToTarget + c.BytesToTarget, t.ToClient + c.BytesToClient, t.Active + c.Active, t.Total + c.Total);
                foreach (KeyValuePair<ProxyErrorKind, long> e in c.Errors)
                {
                    errorTotals[(publication, e.Key)] = errorTotals.GetValueOrDefault((publication, e.Key)) + e.Value;
                }
            }

            foreach (var ((publication, protocol, port), t) in proxyTotals)
            {
                _traffic.ProxyBytes.WithLabels(_traffic.Values(port, publication, protocol, "to_target")).IncTo(t.ToTarget);
                _traffic.ProxyBytes.WithLabels(_traffic.Values(port, publication, protocol, "to_client")).IncTo(t.ToClient);
                _traffic.ProxyActive.WithLabels(_traffic.Values(port, publication, protocol)).Set(t.Active);
                _traffic.ProxyConnections.WithLabels(_traffic.Values(port, publication, protocol)).IncTo(t.Total);
            }

            foreach (var ((publication, kind), v) in errorTotals)
            {
                PortPublisherMetrics.ProxyErrors.WithLabels(publication, kind.ToString()).IncTo(v);
            }

            CollectNat(owner);
            ForgetGonePublications([.. snapshot.Select(p => p.Name)]);
        }
    }

    /// <summary>
    /// Drops the series of publications that no longer exist: names come and go (a CI job's, a pod's), and series kept
    /// for every name ever published grow the process and every scrape without bound.
    /// </summary>
    private void ForgetGonePublications(HashSet<string> live)
    {
        Forget(_traffic.ProxyBytes, live);
        Forget(_traffic.ProxyActive, live);
        Forget(_traffic.ProxyConnections, live);
        Forget(PortPublisherMetrics.ProxyErrors, live);
        Forget(_traffic.NatConnections, live);
        Forget(_traffic.NatFirstPacketBytes, live);
    }

    private static void Forget<TChild>(Collector<TChild> collector, HashSet<string> live)
        where TChild : ChildBase
    {
        foreach (string[] labels in collector.GetAllLabelValues().Where(l => l.Length > 0 && !live.Contains(l[0])).ToList())
        {
            collector.RemoveLabelled(labels);
        }
    }

    private void CollectNat(Dictionary<(string Ip, ushort Port, string Proto), string> owner)
    {
        NftablesBackend? reader = _manager.CounterReader;
        if (reader is null)
        {
            return;
        }

        IReadOnlyList<NatBindingCounter> counters;
        try
        {
            counters = reader.ReadCounters();
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            return; // tables missing for a moment (being repaired): the next scrape has them
        }

        var totals = new Dictionary<(string, string, string), (ulong Packets, ulong Bytes)>();
        foreach (NatBindingCounter c in counters)
        {
            string ip = c.Binding.HostIp is null ? (c.Binding.IsIPv6 ? "::" : "0.0.0.0") : GoNet.FormatIP(c.Binding.HostIp);
            string proto = c.Binding.Protocol.ToName();
            // A CNI attachment's 127.0.0.1 element carries its address-less binding's loopback clients: counted there.
            if (!owner.TryGetValue((ip, c.Binding.HostPort, proto), out string? publication)
                && !(ip == "127.0.0.1" && owner.TryGetValue(("0.0.0.0", c.Binding.HostPort, proto), out publication)))
            {
                continue;
            }

            string port = _traffic.PerBinding ? c.Binding.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture) : string.Empty;
            var key = (publication, proto, port);
            totals.TryGetValue(key, out var t);
            totals[key] = (t.Packets + c.Packets, t.Bytes + c.Bytes);
        }

        foreach (var ((publication, proto, port), t) in totals)
        {
            _traffic.NatConnections.WithLabels(_traffic.Values(port, publication, proto)).IncTo(t.Packets);
            _traffic.NatFirstPacketBytes.WithLabels(_traffic.Values(port, publication, proto)).IncTo(t.Bytes);
        }
    }
}
