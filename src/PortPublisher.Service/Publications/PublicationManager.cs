using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Conntrack;
using PortPublisher.Netlink.Nft;
using PortPublisher.Netlink.Route;
using PortPublisher.Proxy;
using PortPublisher.Service.Logging;
using PortPublisher.Service.Metrics;
using PortPublisher.Service.Options;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>
/// The one writer of publication state. Commands arrive through a channel and run one at a time on a single reader, so
/// state, allocator, nftables connection and proxy are never touched concurrently. Before the service reports READY,
/// <see cref="StartingAsync"/> restores the saved publications and reconciles the kernel's tables with them.
/// A publish runs: resolve target → expand and allocate (reserving real sockets) → choose carriers → persist →
/// program (one nftables transaction; proxy listeners) → flush stale UDP conntrack. Any failure undoes it all.
/// </summary>
internal sealed class PublicationManager : IHostedLifecycleService, IAsyncDisposable
{
    public const string HostWarning = "Published ports are discarded when using host network mode";

    private readonly Channel<Func<Task>> _commands = Channel.CreateUnbounded<Func<Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, ActivePublication> _publications = new(StringComparer.Ordinal);
    private readonly PortPublisherOptions _options;
    private readonly ILogger<PublicationManager> _logger;
    private readonly StateStore _store;
    private readonly UserlandProxy _proxy;
    private readonly PortAllocator _allocator;
    private readonly bool _hostSupportsIPv6;
    private NftablesBackend? _nat;
    private NftEventMonitor? _events;
    private FileSystemWatcher? _netnsWatcher;
    private Timer? _namespaceTimer;
    private Task? _loop;
    private int _repairQueued;
    private int _disposed;
    private ImmutableHashSet<string> _localnetInterfaces = [];

    public PublicationManager(IOptions<PortPublisherOptions> options, ILogger<PublicationManager> logger, ILoggerFactory loggers)
    {
        _options = options.Value;
        _logger = logger;
        _store = new StateStore(_options.StateDir);
        _proxy = new UserlandProxy(loggers.CreateLogger<UserlandProxy>());
        _allocator = new PortAllocator(string.IsNullOrEmpty(_options.DynamicPorts)
            ? new ProcPortRangeSource()
            : new FixedPortRangeSource(ParseRange(_options.DynamicPorts)));
        _hostSupportsIPv6 = CanBindIPv6Loopback();
    }

    /// <summary>What the API and metrics read: replaced after every change, never mutated (readers need no lock).</summary>
    public ImmutableArray<PublicationDto> Snapshot { get; private set; } = [];

    public IReadOnlyCollection<ProxyBinding> ProxyBindings => _proxy.Bindings;

    public string BackendDescription => _nat is not null ? $"nftables (tables ip/ip6 {_options.Table}) + userland proxy" : "userland proxy only (nftables unavailable)";

    /// <summary>A second nftables socket for scrapes, so reading counters never waits for or disturbs the writer.</summary>
    public NftablesBackend? CounterReader { get; private set; }

    public Task<PublicationDto> PublishAsync(PublishRequest request) => Run(() => Publish(request));

    public Task<PublicationDto> UnpublishAsync(string name) => Run(() => Unpublish(name));

    /// <summary>Completes when the command queue has reached this point: the writer is alive.</summary>
    public Task<bool> PingAsync() => Run(() => true);

    public Task<PublicationDto?> GetAsync(string name) => Run(() => _publications.TryGetValue(name, out ActivePublication? p) ? p.ToDto() : null);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        try
        {
            _nat = new NftablesBackend(null, new NftablesOptions { TableName = _options.Table });
            CounterReader = new NftablesBackend(null, new NftablesOptions { TableName = _options.Table });
        }
        catch (NetlinkException e)
        {
            ServiceLog.NftablesUnavailable(_logger, e.Message);
            _nat = null;
        }

        StateFile state = _store.Load(); // a corrupt file stops the service here, loudly
        int bindings = Restore(state);
        string natState = ReconcileTables(startup: true);
        RefreshSnapshot();
        ServiceLog.Restored(_logger, _publications.Count, bindings, natState);

        if (_nat is not null)
        {
            _events = new NftEventMonitor(OnNftEvent);
        }

        WatchNamespaces();
        _loop = Task.Run(ReadLoop, CancellationToken.None);
        await Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppedAsync(CancellationToken cancellationToken) => await DisposeAsync();

    public async ValueTask DisposeAsync()
    {
        // Called by the host when it stops and again by the container that owns the singleton.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _commands.Writer.TryComplete();
        if (_loop is not null)
        {
            await _loop;
        }

        _events?.Dispose();
        _netnsWatcher?.Dispose();
        if (_namespaceTimer is not null)
        {
            await _namespaceTimer.DisposeAsync();
        }

        // Proxied connections end with the process; NAT elements stay in the kernel so NAT'ed connections survive a
        // restart, and the next start finds its tables in sync.
        await _proxy.DisposeAsync();
        foreach (ActivePublication p in _publications.Values)
        {
            foreach (ActiveBinding b in p.Bindings)
            {
                b.Reservation?.Dispose();
            }

            p.Sockets?.Dispose();
            p.Namespace?.Dispose();
        }

        _publications.Clear();
        _nat?.Dispose();
        CounterReader?.Dispose();
    }

    public StatusDto Status()
    {
        var sysctls = new Dictionary<string, string>
        {
            ["net.ipv4.ip_forward"] = ReadSysctl("net/ipv4/ip_forward"),
            ["net.ipv6.conf.all.forwarding"] = ReadSysctl("net/ipv6/conf/all/forwarding"),
            ["net.ipv4.conf.all.route_localnet"] = ReadSysctl("net/ipv4/conf/all/route_localnet"),
            ["net.ipv4.ip_local_port_range"] = ReadSysctl("net/ipv4/ip_local_port_range").Replace('\t', ' '),
        };
        foreach (string iface in _localnetInterfaces)
        {
            sysctls[$"net.ipv4.conf.{iface}.route_localnet"] = ReadSysctl($"net/ipv4/conf/{iface}/route_localnet");
        }

        ImmutableArray<PublicationDto> snap = Snapshot;
        return new StatusDto(typeof(PublicationManager).Assembly.GetName().Version?.ToString() ?? "0", BackendDescription, snap.Length, snap.Sum(p => p.Bindings.Count), sysctls);
    }

    private Task<T> Run<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Func<Task> command = () =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }

            return Task.CompletedTask;
        };
        if (!_commands.Writer.TryWrite(command))
        {
            done.SetException(new PublishException(HttpStatusCode.ServiceUnavailable, "the service is stopping"));
        }

        return done.Task;
    }

    private async Task ReadLoop()
    {
        await foreach (Func<Task> command in _commands.Reader.ReadAllAsync())
        {
            await command();
        }
    }

    private PublicationDto Publish(PublishRequest request)
    {
        string? name = PublicationName.Normalize(request.Name ?? string.Empty, out string? nameError);
        if (name is null)
        {
            throw new PublishException(HttpStatusCode.BadRequest, nameError!);
        }

        if (_publications.ContainsKey(name))
        {
            throw new PublishException(HttpStatusCode.Conflict, $"Conflict. The publication name \"/{name}\" is already in use. Unpublish it first or choose another name.");
        }

        IReadOnlyList<PortMapping> mappings;
        try
        {
            mappings = PortSpecParser.ParseAll(request.Specs ?? []);
        }
        catch (PortSpecException e)
        {
            throw new PublishException(HttpStatusCode.BadRequest, $"invalid -p \"{e.Spec}\": {e.Message}");
        }

        string mode = request.Mode ?? _options.Mode;
        if (mode is not ("auto" or "nat" or "proxy"))
        {
            throw new PublishException(HttpStatusCode.BadRequest, $"invalid mode \"{mode}\": use auto, nat or proxy");
        }

        IPAddress? requestedIp = null;
        if (request.TargetIp is not null && !IPAddress.TryParse(request.TargetIp, out requestedIp))
        {
            throw new PublishException(HttpStatusCode.BadRequest, $"invalid target address \"{request.TargetIp}\"");
        }

        var sw = Stopwatch.StartNew();
        (NetworkNamespace? ns, bool hostNetwork) = OpenTarget(request.Netns);
        if (hostNetwork)
        {
            var hostPub = new ActivePublication(name, request.Netns!, null, request.Specs ?? [], mappings.Count > 0 ? [HostWarning] : []);
            if (!request.DryRun)
            {
                _publications[name] = hostPub;
                Save();
                RefreshSnapshot();
            }

            return hostPub.ToDto();
        }

        var publication = new ActivePublication(name, request.Netns!, ns, request.Specs ?? [], []);
        var reserver = new SocketReserver(b => $"{(b.HostIp.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{b.HostIp}]" : b.HostIp)}:{b.HostPort}:{publication.Name}:{b.ContainerPort}/{b.Protocol.ToName()}");
        IReadOnlyList<HostBinding> allocated = [];
        bool saved = false, natProgrammed = false;
        try
        {
            Target target = ResolveTarget(ns!, requestedIp);
            IReadOnlyList<BindingRequest> requests;
            try
            {
                requests = BindingExpander.Expand(mappings, _hostSupportsIPv6);
                allocated = _allocator.Allocate(requests, reserver);
            }
            catch (PortAllocationException e)
            {
                throw new PublishException(HttpStatusCode.Conflict, e.Message);
            }

            foreach (HostBinding b in allocated)
            {
                (Carrier carrier, IPAddress targetIp) = ChooseCarrier(b, target, mode);
                publication.Bindings.Add(new ActiveBinding(b, carrier, targetIp) { Reservation = reserver.Take(b) });
            }

            if (request.DryRun)
            {
                return publication.ToDto();
            }

            // Persist the intent first: a crash from here on restores (or cleans up) this publication on restart.
            _publications[name] = publication;
            Save();
            saved = true;

            List<NatBinding> nat = [.. publication.Bindings.Where(b => b.Carrier == Carrier.Nat).Select(b => b.ToNat())];
            if (nat.Count > 0)
            {
                EnsureSysctls(target);
                var t0 = Stopwatch.GetTimestamp();
                _nat!.Apply(nat, []);
                PortPublisherMetrics.TransactionSeconds.Observe(Stopwatch.GetElapsedTime(t0).TotalSeconds);
                natProgrammed = true;
                FlushUdpConntrack(publication.Bindings);
            }

            StartProxies(publication);
            RefreshSnapshot();
            ServiceLog.Published(_logger, name, publication.Netns, Math.Round(sw.Elapsed.TotalMilliseconds, 1), Summary(publication.Bindings));
            return publication.ToDto();
        }
        catch (Exception e)
        {
            // Undo everything this command did, in reverse.
            foreach (ActiveBinding b in publication.Bindings)
            {
                if (b.Proxy is not null)
                {
                    _proxy.StopAsync(b.Proxy).AsTask().GetAwaiter().GetResult();
                }

                b.Reservation?.Dispose();
            }

            if (natProgrammed)
            {
                TryRemoveNat(publication.Bindings);
            }

            reserver.ReleaseAll();
            _allocator.Release(allocated);
            if (saved || _publications.TryGetValue(name, out ActivePublication? same) && same == publication)
            {
                _publications.Remove(name);
                if (saved)
                {
                    Save();
                }
            }

            publication.Sockets?.Dispose();
            ns?.Dispose();
            PortPublisherMetrics.Errors.WithLabels(e is PublishException ? "rejected" : "failed").Inc();
            ServiceLog.PublishFailed(_logger, name, e.Message);
            if (e is PublishException)
            {
                throw;
            }

            throw new PublishException(HttpStatusCode.InternalServerError, e.Message, e);
        }
        finally
        {
            if (request.DryRun)
            {
                reserver.ReleaseAll();
                foreach (ActiveBinding b in publication.Bindings)
                {
                    b.Reservation?.Dispose();
                }

                _allocator.Release(allocated);
                if (!_publications.ContainsKey(name))
                {
                    ns?.Dispose();
                }
            }

        }
    }

    private PublicationDto Unpublish(string name)
    {
        if (!_publications.Remove(name, out ActivePublication? p))
        {
            throw new PublishException(HttpStatusCode.NotFound, $"No such container: {name}");
        }

        Teardown(p);
        Save();
        RefreshSnapshot();
        ServiceLog.Unpublished(_logger, name);
        return p.ToDto();
    }

    private void Teardown(ActivePublication p)
    {
        List<ActiveBinding> nat = [.. p.Bindings.Where(b => b.Carrier == Carrier.Nat)];
        if (nat.Count > 0)
        {
            TryRemoveNat(nat);
            FlushUdpConntrack(nat);
        }

        foreach (ActiveBinding b in p.Bindings)
        {
            if (b.Proxy is not null)
            {
                _proxy.StopAsync(b.Proxy).AsTask().GetAwaiter().GetResult();
            }

            b.Reservation?.Dispose();
        }

        _allocator.Release(p.Bindings.Select(b => b.Host));
        p.Sockets?.Dispose();
        p.Namespace?.Dispose();
    }

    private void TryRemoveNat(IEnumerable<ActiveBinding> bindings)
    {
        if (_nat is null)
        {
            return;
        }

        try
        {
            _nat.Apply([], [.. bindings.Where(b => b.Carrier == Carrier.Nat).Select(b => b.ToNat())]);
        }
        catch (NetlinkException)
        {
            // The elements are already gone (someone flushed the table): the repair path rebuilds from our state.
            RequestRepair();
        }
    }

    private (NetworkNamespace?, bool Host) OpenTarget(string? netns)
    {
        if (string.IsNullOrEmpty(netns))
        {
            throw new PublishException(HttpStatusCode.BadRequest, "a target namespace is required (--netns NAME, a path, container:NAME or host)");
        }

        if (netns == "host")
        {
            return (null, true);
        }

        if (netns.StartsWith("container:", StringComparison.Ordinal))
        {
            string other = netns["container:".Length..];
            if (!_publications.TryGetValue(other, out ActivePublication? shared) || shared.Namespace is null)
            {
                throw new PublishException(HttpStatusCode.NotFound, $"No such container: {other}");
            }

            return (NetworkNamespace.Open(shared.Namespace.Path), false);
        }

        try
        {
            return (NetworkNamespace.Open(netns), false);
        }
        catch (NetworkNamespaceNotFoundException e)
        {
            throw new PublishException(HttpStatusCode.NotFound, e.Message);
        }
    }

    /// <summary>
    /// The address to send traffic to, per family: the one asked for, else the namespace's first global address, else
    /// its loopback; and whether the host can route to it (which NAT needs).
    /// </summary>
    private static Target ResolveTarget(NetworkNamespace ns, IPAddress? requested)
    {
        IPAddress? v4 = null, v6 = null;
        if (requested is not null)
        {
            if (requested.AddressFamily == AddressFamily.InterNetworkV6)
            {
                v6 = requested;
            }
            else
            {
                v4 = requested;
            }
        }
        else
        {
            using var inside = new RouteNetlink(ns);
            IReadOnlyList<InterfaceAddress> addresses = inside.GetAddresses();
            v4 = addresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork && a.Scope == 0)?.Address
                 ?? (addresses.Any(a => a.Address.Equals(IPAddress.Loopback)) ? IPAddress.Loopback : null);
            v6 = addresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6 && a.Scope == 0)?.Address;
        }

        using var host = new RouteNetlink();
        RouteLookup? r4 = v4 is null || IPAddress.IsLoopback(v4) ? null : host.GetRoute(v4);
        RouteLookup? r6 = v6 is null || IPAddress.IsLoopback(v6) ? null : host.GetRoute(v6);
        return new Target(v4, v6, r4 is { IsLocal: false }, r6 is { IsLocal: false }, r4?.OutputInterface);
    }

    private (Carrier, IPAddress) ChooseCarrier(HostBinding b, Target t, string mode)
    {
        bool v6Host = b.HostIp.AddressFamily == AddressFamily.InterNetworkV6;
        IPAddress? same = v6Host ? t.V6 : t.V4;
        bool routable = v6Host ? t.V6Routable : t.V4Routable;
        bool natPossible = _nat is not null && same is not null && routable && !b.HostIp.Equals(IPAddress.IPv6Loopback);
        IPAddress? proxyTarget = same ?? t.V4 ?? t.V6;
        if (b.Protocol == Protocol.Sctp)
        {
            return natPossible && mode != "proxy"
                ? (Carrier.Nat, same!)
                : throw new PublishException(HttpStatusCode.BadRequest, $"{b}: SCTP is carried only by NAT, which cannot reach this target (use an address the host routes to)");
        }

        switch (mode)
        {
            case "nat" when natPossible:
            case "auto" when natPossible:
                return (Carrier.Nat, same!);
            case "nat":
                throw new PublishException(HttpStatusCode.BadRequest, $"{b}: NAT cannot carry this binding ({(_nat is null ? "nftables is unavailable" : same is null ? "the target has no address of that family" : "the host has no route to the target")}); use --mode auto or proxy");
            default:
                return proxyTarget is not null
                    ? (Carrier.Proxy, proxyTarget)
                    : throw new PublishException(HttpStatusCode.BadRequest, $"{b}: the target namespace has no address to send traffic to");
        }
    }

    /// <summary>
    /// Proxied bindings listen on their reserved socket. So do NAT'ed <c>[::]</c> bindings: the ip6 output chain leaves
    /// ::1 alone (the kernel keeps it on lo), so local clients of <c>[::1]:port</c> reach the listener, which the proxy
    /// serves, as Docker's docker-proxy does; every other address is DNAT'ed before it gets there.
    /// </summary>
    private void StartProxies(ActivePublication p)
    {
        foreach (ActiveBinding b in p.Bindings.Where(b => b.Carrier == Carrier.Proxy
                     || (b.Host.HostIp.Equals(IPAddress.IPv6Any) && b.Host.Protocol != Protocol.Sctp && b.Reservation is not null)))
        {
            p.Sockets ??= new NamespaceSocketFactory(p.Namespace!);
            var listener = new Socket(b.Reservation ?? throw new InvalidOperationException($"{b.Host}: no reserved socket"));
            b.Reservation = null;
            b.Proxy = _proxy.Start(listener, new ProxyTarget(new IPEndPoint(b.TargetIp, b.Host.ContainerPort), p.Sockets));
        }
    }

    private static void FlushUdpConntrack(IEnumerable<ActiveBinding> bindings)
    {
        ushort[] ports = [.. bindings.Where(b => b.Carrier == Carrier.Nat && b.Host.Protocol == Protocol.Udp).Select(b => b.Host.HostPort).Distinct()];
        if (ports.Length == 0)
        {
            return;
        }

        try
        {
            using var ct = new ConntrackNetlink();
            ct.DeleteUdpByOriginalDestinationPort(ports);
        }
        catch (NetlinkException)
        {
            // No conntrack in this namespace yet (nothing to flush) or no ctnetlink: NAT still applies to new flows.
        }
    }

    private void EnsureSysctls(Target t)
    {
        WriteSysctl("net/ipv4/ip_forward", "1");
        if (t.V6 is not null)
        {
            WriteSysctl("net/ipv6/conf/all/forwarding", "1");
        }

        if (t.V4Interface is not null)
        {
            // DNAT of 127.0.0.1-bound ports: the kernel drops 127/8 packets routed off lo unless this is set;
            // the loopback guard in our tables keeps outside packets to 127/8 out.
            WriteSysctl($"net/ipv4/conf/{t.V4Interface}/route_localnet", "1");
            _localnetInterfaces = _localnetInterfaces.Add(t.V4Interface);
        }
    }

    private void WriteSysctl(string key, string value)
    {
        string path = $"/proc/sys/{key}";
        try
        {
            if (File.ReadAllText(path).Trim() != value)
            {
                File.WriteAllText(path, value);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            ServiceLog.SysctlFailed(_logger, key.Replace('/', '.'), e.Message);
        }
    }

    private static string ReadSysctl(string key)
    {
        try
        {
            return File.ReadAllText($"/proc/sys/{key}").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unreadable";
        }
    }

    private int Restore(StateFile state)
    {
        int bindings = 0;
        foreach (StoredPublication sp in state.Publications)
        {
            try
            {
                ActivePublication p = RestoreOne(sp);
                _publications[p.Name] = p;
                bindings += p.Bindings.Count;
            }
            catch (Exception e) when (e is NetworkNamespaceNotFoundException or PortAllocationException or SocketException or PublishException or FormatException)
            {
                ServiceLog.DroppedOnRestore(_logger, sp.Name, e.Message);
            }
        }

        Save();
        return bindings;
    }

    private ActivePublication RestoreOne(StoredPublication sp)
    {
        if (sp.NetnsPath is null)
        {
            return new ActivePublication(sp.Name, sp.Netns, null, sp.Specs, sp.Warnings ?? []);
        }

        NetworkNamespace ns = NetworkNamespace.Open(sp.NetnsPath);
        if (ns.Identity != (sp.NetnsDevice, sp.NetnsInode))
        {
            ns.Dispose();
            throw new NetworkNamespaceNotFoundException($"{sp.NetnsPath} is now a different namespace than the one published");
        }

        var p = new ActivePublication(sp.Name, sp.Netns, ns, sp.Specs, sp.Warnings ?? []);
        var hosts = new List<HostBinding>();
        bool allocated = false;
        try
        {
            foreach (StoredBinding b in sp.Bindings)
            {
                HostBinding host = new BindingDto(b.HostIp, b.HostPort, b.Protocol, b.ContainerPort).ToBinding();
                var active = new ActiveBinding(host, b.Carrier == "nat" ? Carrier.Nat : Carrier.Proxy, IPAddress.Parse(b.TargetIp));
                if (active.Carrier == Carrier.Nat && _nat is null)
                {
                    throw new PublishException("nftables is unavailable for its NAT bindings");
                }

                p.Bindings.Add(active);
                hosts.Add(host);
            }

            _allocator.Restore(hosts);
            allocated = true;
            var reserver = new SocketReserver(b => b.ToString());
            foreach (ActiveBinding b in p.Bindings.Where(b => b.Host.Protocol != Protocol.Sctp))
            {
                b.Reservation = reserver.BindOne(b.Host);
            }

            StartProxies(p);
            return p;
        }
        catch
        {
            foreach (ActiveBinding b in p.Bindings)
            {
                b.Reservation?.Dispose();
                if (b.Proxy is not null)
                {
                    _proxy.StopAsync(b.Proxy).AsTask().GetAwaiter().GetResult();
                }
            }

            if (allocated)
            {
                _allocator.Release(hosts);
            }

            p.Sockets?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    /// <summary>Keeps the tables if they match our state (no transaction, no disruption), replaces them atomically if not.</summary>
    private string ReconcileTables(bool startup)
    {
        if (_nat is null)
        {
            return "unavailable";
        }

        List<NatBinding> expected = [.. _publications.Values.SelectMany(p => p.Bindings).Where(b => b.Carrier == Carrier.Nat).Select(b => b.ToNat())];
        RulesetCheck check = _nat.Check(expected);
        if (check.State == RulesetState.InSync)
        {
            return "in sync, kept";
        }

        long t0 = Stopwatch.GetTimestamp();
        _nat.InstallOrReplace(expected);
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (!startup)
        {
            ServiceLog.Repaired(_logger, check.State.ToString(), string.Join("; ", check.Differences.Take(5)), ms);
            PortPublisherMetrics.Repairs.Inc();
        }

        return $"{check.State}, replaced";
    }

    private void OnNftEvent(NftEvent e)
    {
        if (_nat is null || e.PortId == _nat.PortId || e.PortId == CounterReader?.PortId)
        {
            return;
        }

        if (e.Table == _options.Table || e.Kind is "DELTABLE" or "OVERRUN")
        {
            RequestRepair();
        }
    }

    private void RequestRepair()
    {
        // Coalesce a burst of events (a flush sends one per object) into one check.
        if (Interlocked.Exchange(ref _repairQueued, 1) == 0)
        {
            _commands.Writer.TryWrite(() =>
            {
                Volatile.Write(ref _repairQueued, 0);
                try
                {
                    ReconcileTables(startup: false);
                }
                catch (NetlinkException ex)
                {
                    ServiceLog.RepairFailed(_logger, ex.Message);
                }

                return Task.CompletedTask;
            });
        }
    }

    /// <summary>`ip netns del` removes the name (inotify tells us at once); a /proc/PID/ns/net target goes with its process (checked every second).</summary>
    private void WatchNamespaces()
    {
        try
        {
            Directory.CreateDirectory(NetworkNamespace.NetnsRunDir);
            _netnsWatcher = new FileSystemWatcher(NetworkNamespace.NetnsRunDir) { EnableRaisingEvents = true };
            _netnsWatcher.Deleted += (_, _) => RequestNamespaceCheck();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // Without /run/netns only the timer notices.
        }

        _namespaceTimer = new Timer(_ => RequestNamespaceCheck(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    private void RequestNamespaceCheck() => _commands.Writer.TryWrite(() =>
    {
        foreach (ActivePublication p in _publications.Values.ToList())
        {
            if (p.Namespace is not null && !File.Exists(p.Namespace.Path))
            {
                _publications.Remove(p.Name);
                Teardown(p);
                Save();
                RefreshSnapshot();
                ServiceLog.NamespaceGone(_logger, p.Name, p.Netns);
            }
        }

        return Task.CompletedTask;
    });

    private void Save() => _store.Save(new StateFile(StateFile.CurrentVersion, [.. _publications.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.ToStored())]));

    private void RefreshSnapshot()
    {
        Snapshot = [.. _publications.Values.OrderBy(p => p.Name, StringComparer.Ordinal).Select(p => p.ToDto())];
        PortPublisherMetrics.Publications.Set(Snapshot.Length);
    }

    /// <summary>Up to 8 bindings by name, then counts: a 10,000-port range must not write a 10,000-item log line.</summary>
    private static string Summary(List<ActiveBinding> bindings)
    {
        string first = string.Join(", ", bindings.Take(8).Select(b => $"{b.Host}({b.CarrierName})"));
        return bindings.Count <= 8
            ? first
            : $"{first}, … {bindings.Count} in all ({bindings.Count(b => b.Carrier == Carrier.Nat)} nat, {bindings.Count(b => b.Carrier == Carrier.Proxy)} proxy)";
    }

    private static PortRange ParseRange(string text)
    {
        string[] f = text.Split('-');
        return new PortRange(ushort.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture), ushort.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture));
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
