using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Logging;
using PortPublisher.Service.Metrics;
using PortPublisher.Service.Options;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>
/// The bodies of publish and unpublish, run by the writer. A publish: open the target → expand and allocate (real
/// sockets hold the ports) → choose carriers → persist → program NAT (one transaction) → flush stale UDP conntrack →
/// start proxies. Each step that changes something registers its undo in a <see cref="PublishTransaction"/>, so a
/// failure anywhere, and a dry run, leave nothing behind, the allocator's cursor included. An unpublish persists first:
/// if the state cannot be written, nothing is torn down.
/// </summary>
internal sealed class Publisher(
    PublicationRegistry registry,
    PortAllocator allocator,
    ITargetResolver resolver,
    IPortReservations reservations,
    INatBackend nat,
    IProxyHost proxy,
    IConntrack conntrack,
    IHostSysctls sysctls,
    NatReconciler repair,
    PipelineDeadlines deadlines,
    IOptions<PortPublisherOptions> options,
    TimeProvider time,
    ILogger<Publisher> logger)
{
    public const string HostWarning = "Published ports are discarded when using host network mode";

    private readonly PublishMode _defaultMode = PublishModeNames.TryParse(options.Value.Mode, out PublishMode m) ? m : PublishMode.Auto;
    private readonly bool _hostSupportsIPv6 = CanBindIPv6Loopback();

    public async ValueTask<PublicationDto> PublishAsync(ValidatedPublish request, CancellationToken cancellationToken)
    {
        string name = request.Name;
        if (registry.Contains(name))
        {
            string parked = registry.Parked.TryGetValue(name, out (State.StoredPublication Saved, string Reason) p) ? $" (it is saved but not active: {p.Reason})" : string.Empty;
            throw new PublishException(HttpStatusCode.Conflict, $"Conflict. The publication name \"{name}\" is already in use{parked}. Unpublish it first or choose another name.") { Step = "validate" };
        }

        long started = time.GetTimestamp();
        var tx = new PublishTransaction(logger, name, time);
        try
        {
            PublicationDto result = await PublishSteps(request, tx, cancellationToken);
            if (!request.DryRun)
            {
                List<ActiveBinding> made = registry.TryGet(name, out ActivePublication p) ? p.Bindings : [];
                ServiceLog.Published(logger, name, request.Netns, made.Count, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1), Summary(made));
                if (logger.IsEnabled(LogLevel.Debug))
                {
                    ServiceLog.PublishSteps(logger, name, tx.Timings());
                }
            }

            return result;
        }
        catch (Exception e)
        {
            await tx.RollbackAsync();
            PortPublisherMetrics.Errors.WithLabels(e is PublishException { Status: < HttpStatusCode.InternalServerError } ? "rejected" : "failed").Inc();
            ServiceLog.PublishFailed(logger, name, tx.Step, e.Message);
            throw e is PublishException pe
                ? (pe.Step is null ? new PublishException(pe.Status, pe.Message, pe) { Step = tx.Step } : pe)
                : new PublishException(HttpStatusCode.InternalServerError, $"{tx.Step}: {e.Message}", e) { Step = tx.Step };
        }
    }

    public async ValueTask<PublicationDto> UnpublishAsync(string name)
    {
        long started = time.GetTimestamp();
        if (!registry.TryGet(name, out ActivePublication p))
        {
            if (registry.Unpark(name, out StoredPublication parked))
            {
                // Saved but not active (its restore is waiting on a port or a limit): forgetting it is all there is to do.
                try
                {
                    registry.PersistRemove(name);
                }
                catch (PublishException e)
                {
                    registry.Park(parked, "unpublish could not be saved");
                    throw new PublishException(e.Status, $"unpublish {name}: {e.Message}; nothing was changed", e) { Step = "persist" };
                }

                ServiceLog.Unpublished(logger, name, parked.Bindings.Count, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1));
                return new PublicationDto(parked.Name, parked.Netns, []);
            }

            throw new PublishException(HttpStatusCode.NotFound, $"no such publication: {name}");
        }

        // The intent is written first: a restart after this point does not bring the publication back, and a state
        // directory that cannot be written leaves it fully in place.
        StepTimer? steps = logger.IsEnabled(LogLevel.Debug) ? new StepTimer(time) : null;
        steps?.Begin("persist");
        registry.Remove(name);
        try
        {
            registry.PersistRemove(name);
        }
        catch (PublishException e)
        {
            registry.Add(p);
            throw new PublishException(e.Status, $"unpublish {name}: {e.Message}; nothing was changed", e) { Step = "persist" };
        }

        await TeardownAsync(p, steps);
        steps?.Begin("reply");
        registry.RefreshSnapshot(name);
        PublicationDto gone = p.ToDto();
        ServiceLog.Unpublished(logger, name, p.Bindings.Count, Math.Round(time.GetElapsedTime(started).TotalMilliseconds, 1));
        if (steps is not null)
        {
            ServiceLog.UnpublishSteps(logger, name, steps.Summary());
        }

        return gone;
    }

    /// <summary>Unpublishes every publication whose namespace is gone (<c>ip netns del</c>, its process exited).</summary>
    public async ValueTask DropVanishedAsync()
    {
        // Runs every second: one stat per namespace path, however many publications go into it.
        Dictionary<(string, (ulong, ulong)), bool>? named = null;
        List<ActivePublication>? gone = null;
        foreach (ActivePublication p in registry.All)
        {
            if (p.Namespace is not { } ns)
            {
                continue;
            }

            named ??= [];
            if (!named.TryGetValue((ns.Path, ns.Identity), out bool still))
            {
                named[(ns.Path, ns.Identity)] = still = ns.StillNamed;
            }

            if (!still)
            {
                (gone ??= []).Add(p);
            }
        }

        foreach (ActivePublication p in gone ?? [])
        {
            registry.Remove(p.Name);
            try
            {
                registry.PersistRemove(p.Name);
            }
            catch (PublishException e)
            {
                // The kernel side goes anyway (the namespace is gone); the next start drops it from the file too.
                ServiceLog.StateWriteFailed(logger, e.Message);
            }

            await TeardownAsync(p);
            registry.RefreshSnapshot(p.Name);
            ServiceLog.NamespaceGone(logger, p.Name, p.Netns);
        }
    }

    /// <summary>Releases everything a publication holds: NAT elements, proxies (with a deadline each), ports, namespace.</summary>
    public async ValueTask TeardownAsync(ActivePublication p, StepTimer? steps = null)
    {
        List<ActiveBinding> natBindings = [.. p.Bindings.Where(b => b.Carrier == Carrier.Nat)];
        if (natBindings.Count > 0)
        {
            steps?.Begin("remove nftables elements");
            TryRemoveNat(p, natBindings);
            steps?.Begin("flush conntrack");
            conntrack.FlushUdp(UdpPorts(natBindings));
            if (natBindings.Any(p.NeedsLocalnet))
            {
                sysctls.SyncLocalnet(registry.LocalnetTargets(except: p.Name));
            }
        }

        steps?.Begin("stop proxies");
        await StopProxiesAsync(p.Name, p.Bindings);
        steps?.Begin("release ports");
        foreach (ActiveBinding b in p.Bindings)
        {
            b.Hold?.Dispose();
            b.Hold = null;
        }

        allocator.Release(p.Bindings.Select(b => b.Host));
        p.Sockets?.Dispose();
        p.Namespace?.Dispose();
    }

    /// <summary>
    /// Starts the listeners of a publication whose ports are reserved (publish and restore). A wildcard pair on one
    /// dual-stack socket gets one listener: IPv6 clients go to the [::] binding's target, IPv4 ones (::ffff:a.b.c.d) to
    /// the 0.0.0.0 binding's.
    /// </summary>
    public void StartProxies(ActivePublication p)
    {
        Dictionary<PortHold, ActiveBinding>? halves = null;
        foreach (ActiveBinding b in p.Listeners())
        {
            if (b.Proxy is not null)
            {
                continue;
            }

            PortHold hold = b.Hold ?? throw new InvalidOperationException($"{b.Host}: no reserved socket");
            if (hold.DualStack)
            {
                halves ??= [];
                if (!halves.Remove(hold, out ActiveBinding? other))
                {
                    halves[hold] = b; // the other half comes later in the list
                    continue;
                }

                StartPair(p, hold, other, b);
                continue;
            }

            b.Proxy = proxy.Start(new ProxyStart(hold.Reserved, b.Host.Protocol, Listen(b), new IPEndPoint(b.TargetIp, b.Host.ContainerPort), null, b.Carrier == Carrier.Nat), Sockets(p));
            hold.HandedOver(); // the proxy owns the socket now
            b.Hold = null;
        }

        // A pair whose other half does not listen (never made so: both halves of a pair are wildcards): the listener
        // still holds both families, so every client goes to this half's target.
        foreach ((PortHold hold, ActiveBinding alone) in halves ?? [])
        {
            StartPair(p, hold, alone, alone);
        }
    }

    /// <summary>Stops every listener of these bindings at once, so one deadline bounds them all (a 5,000-port range too).</summary>
    public async ValueTask StopProxiesAsync(string publication, IEnumerable<ActiveBinding> bindings)
    {
        List<IProxyLease> leases = [];
        HashSet<IProxyLease> seen = new(ReferenceEqualityComparer.Instance);
        foreach (ActiveBinding b in bindings)
        {
            if (b.Proxy is { } lease)
            {
                if (seen.Add(lease))
                {
                    leases.Add(lease); // a pair's two bindings share one
                }

                b.Proxy = null;
            }
        }

        if (leases.Count == 0)
        {
            return;
        }

        bool[] confirmed = await Task.WhenAll(leases.Select(l => proxy.StopAsync(l, deadlines.ProxyStop).AsTask()));
        int late = 0;
        for (int i = 0; i < leases.Count; i++)
        {
            // The port is free all the same; a loop that did not answer in time is a bug worth an alert. A range
            // logs its first few, not one line per port.
            if (!confirmed[i] && ++late <= 8)
            {
                ServiceLog.ProxyStopTimedOut(logger, publication, leases[i].Listen.ToString() ?? "?", deadlines.ProxyStop.TotalSeconds);
            }
        }

        if (late > 0)
        {
            PortPublisherMetrics.Errors.WithLabels("proxy_stop_timeout").Inc(late);
        }
    }

    private async ValueTask<PublicationDto> PublishSteps(ValidatedPublish request, PublishTransaction tx, CancellationToken cancellationToken)
    {
        string name = request.Name;
        PublishMode mode = request.Mode ?? _defaultMode;

        tx.Begin("open target");
        if (request.Netns == "host")
        {
            var hostPub = new ActivePublication(name, request.Netns, null, request.Specs, request.Mappings.Count > 0 ? [HostWarning] : []);
            if (!request.DryRun)
            {
                tx.Begin("persist");
                registry.Add(hostPub);
                tx.OnRollback("persist", () => registry.Remove(name));
                registry.PersistPut(hostPub);
                tx.Commit();
                registry.RefreshSnapshot(name);
            }

            return hostPub.ToDto();
        }

        string netns = request.Netns;
        if (netns.StartsWith("container:", StringComparison.Ordinal))
        {
            string other = netns["container:".Length..];
            if (!registry.TryGet(other, out ActivePublication shared) || shared.Namespace is null)
            {
                throw new PublishException(HttpStatusCode.NotFound, $"no such publication: {other}");
            }

            netns = shared.Namespace.Path;
        }

        ResolvedTarget resolved = await resolver.ResolveAsync(netns, request.TargetIps, cancellationToken);
        tx.OnRollback("open target", resolved.Namespace.Dispose);
        Target target = resolved.Target;
        var publication = new ActivePublication(name, request.Netns, resolved.Namespace, request.Specs, [], request.Cni);

        tx.Begin("allocate");
        IReadOnlyList<BindingRequest> requests;
        try
        {
            requests = BindingExpander.Expand(request.Mappings, _hostSupportsIPv6);
        }
        catch (PortAllocationException e)
        {
            throw new PublishException(HttpStatusCode.BadRequest, e.Message);
        }

        // Docker skips the implied [::] half of an address-less spec where it cannot be carried (userland-proxy=false);
        // it is left out before allocating, so it takes no port.
        HashSet<(ushort, Protocol)> explicitV6 = [.. request.Mappings.Where(IsExplicitV6Wildcard).Select(m => (m.ContainerPort, m.Protocol))];
        var kept = new List<BindingRequest>(requests.Count);
        foreach (BindingRequest r in requests)
        {
            bool implied = r.HostIp.Equals(IPAddress.IPv6Any) && !explicitV6.Contains((r.ContainerPort, r.Protocol));
            CarrierDecision d = CarrierPolicy.Choose(r.HostIp, r.Protocol, implied, target, mode, nat.Available);
            if (d.IsSkip)
            {
                if (!publication.Warnings.Contains(d.Warning!))
                {
                    publication.Warnings.Add(d.Warning!);
                    ServiceLog.BindingSkipped(logger, name, d.Warning!);
                }

                continue;
            }

            kept.Add(r);
        }

        // A CNI attachment's host ports are held by its runtime (Podman's conmon), as with portmap: the allocator still
        // refuses ports other publications have, but no socket of ours holds them.
        IReservationSet reserved = request.Cni is null ? reservations.Begin(b => Describe(b, target)) : new NoReservations();
        tx.OnRollback("release reservations", reserved.ReleaseAll);
        AllocatorCheckpoint checkpoint = allocator.Checkpoint();
        IReadOnlyList<HostBinding> allocated;
        try
        {
            allocated = allocator.Allocate(kept, reserved);
        }
        catch (PortAllocationException e)
        {
            throw new PublishException(HttpStatusCode.Conflict, e.Message);
        }

        tx.OnRollback("release ports", () =>
        {
            allocator.Release(allocated);
            allocator.Rewind(checkpoint);
        });

        tx.Begin("choose carriers");
        tx.OnRollback("close reservations", () =>
        {
            foreach (ActiveBinding b in publication.Bindings)
            {
                b.Hold?.Dispose();
                b.Hold = null;
            }
        });
        foreach (HostBinding b in allocated)
        {
            bool implied = b.HostIp.Equals(IPAddress.IPv6Any) && !explicitV6.Contains((b.ContainerPort, b.Protocol));
            CarrierDecision d = CarrierPolicy.Choose(b.HostIp, b.Protocol, implied, target, mode, nat.Available);
            if (d.IsRefusal)
            {
                throw new PublishException(HttpStatusCode.BadRequest, $"{b}: {d.Error}");
            }

            publication.Bindings.Add(new ActiveBinding(b, d.Carrier, d.TargetIp!) { Hold = reserved.Take(b) });
        }

        if (request.DryRun)
        {
            PublicationDto plan = publication.ToDto();
            await tx.RollbackAsync();
            return plan;
        }

        // Persist the intent first: a crash from here on restores (or cleans up) this publication on restart.
        tx.Begin("persist");
        registry.Add(publication);
        tx.OnRollback("forget", () => registry.Remove(name));
        registry.PersistPut(publication);

        // Saved: from here a rollback must also take it out of the saved state (a put that failed wrote nothing).
        tx.OnRollback("persist", () =>
        {
            try
            {
                registry.PersistRemove(name);
            }
            catch (PublishException e)
            {
                ServiceLog.StateWriteFailed(logger, e.Message);
            }
        });

        List<ActiveBinding> natBindings = [.. publication.Bindings.Where(b => b.Carrier == Carrier.Nat)];
        if (natBindings.Count > 0)
        {
            tx.Begin("set sysctls");
            sysctls.EnsureFor(target);
            if (natBindings.Any(publication.NeedsLocalnet))
            {
                sysctls.SyncLocalnet(registry.LocalnetTargets());
                tx.OnRollback("reset route_localnet", () => sysctls.SyncLocalnet(registry.LocalnetTargets(except: name)));
            }

            tx.Begin("program nftables");
            long t0 = Stopwatch.GetTimestamp();
            nat.Apply(publication.NatElements(natBindings), []);
            PortPublisherMetrics.TransactionSeconds.Observe(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            tx.OnRollback("remove nftables elements", () => TryRemoveNat(publication, natBindings));
            tx.Begin("flush conntrack");
            conntrack.FlushUdp(UdpPorts(natBindings));
        }

        tx.Begin("start proxies");
        tx.OnRollback("stop proxies", async () =>
        {
            await StopProxiesAsync(name, publication.Bindings);
            publication.Sockets?.Dispose();
        });
        StartProxies(publication);

        tx.Begin("reply");
        tx.Commit();
        return registry.RefreshSnapshot(name) ?? publication.ToDto(); // one DTO for readers and the reply (20,000 bindings are made once)
    }

    private void StartPair(ActivePublication p, PortHold hold, ActiveBinding first, ActiveBinding second)
    {
        ActiveBinding v6 = first.Host.HostIp.AddressFamily == AddressFamily.InterNetworkV6 ? first : second;
        ActiveBinding v4 = ReferenceEquals(v6, first) ? second : first;
        IProxyLease lease = proxy.Start(
            new ProxyStart(
                hold.Reserved,
                v6.Host.Protocol,
                Listen(v6),
                new IPEndPoint(v6.TargetIp, v6.Host.ContainerPort),
                new IPEndPoint(v4.TargetIp, v4.Host.ContainerPort),
                v6.Carrier == Carrier.Nat && v4.Carrier == Carrier.Nat),
            Sockets(p));
        hold.HandedOver();
        first.Proxy = second.Proxy = lease;
        first.Hold = second.Hold = null;
    }

    private static IPEndPoint Listen(ActiveBinding b) => new(b.Host.HostIp, b.Host.HostPort);

    private IProxySockets Sockets(ActivePublication p) =>
        p.Sockets ??= proxy.OpenSockets(p.Namespace ?? throw new InvalidOperationException($"{p.Name}: no namespace to proxy into"));

    private void TryRemoveNat(ActivePublication publication, IReadOnlyCollection<ActiveBinding> bindings)
    {
        if (!nat.Available)
        {
            return;
        }

        try
        {
            nat.Apply([], publication.NatElements(bindings));
        }
        catch (Netlink.NetlinkException)
        {
            // The elements are already gone (someone flushed the table): the repair path rebuilds from our state.
            repair.Request();
        }
    }

    private static bool IsExplicitV6Wildcard(PortMapping m) =>
        m.HostIp.Length > 0 && GoNet.TryParseIP(m.HostIp, out IPAddress? ip) && ip!.Equals(IPAddress.IPv6Any);

    private static ushort[] UdpPorts(IEnumerable<ActiveBinding> bindings) =>
        [.. bindings.Where(b => b.Carrier == Carrier.Nat && b.Host.Protocol == Protocol.Udp).Select(b => b.Host.HostPort).Distinct()];

    /// <summary>Docker's <c>HOSTIP:HOSTPORT:CONTAINERIP:CONTAINERPORT/PROTO</c>, as in its bind error texts.</summary>
    private static string Describe(HostBinding b, Target target)
    {
        bool v6 = b.HostIp.AddressFamily == AddressFamily.InterNetworkV6;
        IPAddress? to = (v6 ? target.V6 : target.V4) ?? target.V4 ?? target.V6;
        string host = v6 ? $"[{b.HostIp}]" : b.HostIp.ToString();
        string container = to is null ? "?" : to.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{to}]" : to.ToString();
        return $"{host}:{b.HostPort}:{container}:{b.ContainerPort}/{b.Protocol.ToName()}";
    }

    /// <summary>Up to 8 bindings by name, then counts: a 10,000-port range must not write a 10,000-item log line.</summary>
    private static string Summary(List<ActiveBinding> bindings)
    {
        string first = string.Join(", ", bindings.Take(8).Select(b => $"{b.Host}({b.Carrier.ToName()})"));
        return bindings.Count <= 8
            ? first
            : $"{first}, … {bindings.Count} in all ({bindings.Count(b => b.Carrier == Carrier.Nat)} nat, {bindings.Count(b => b.Carrier == Carrier.Proxy)} proxy)";
    }

    private static bool CanBindIPv6Loopback()
    {
        try
        {
            using var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
