using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Core.Api;
using PortPublisher.Core.Sandboxes;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using PortPublisher.Netlink.Route;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Sandboxes;

/// <summary>
/// Sandboxes: <c>ip netns</c> namespaces made, persisted and removed by the service, in Docker's four network modes.
/// Creates and removes run on the publications' single writer (<see cref="CommandQueue"/>), so a sandbox's <c>-p</c>
/// goes through the same <see cref="Publisher"/> as <c>publish</c>, in the same command; every kernel or file step
/// runs off the writer under <see cref="PipelineDeadlines.Kernel"/>. A create registers the undo of each step, so a
/// failure anywhere (the veth, the files, the ports) leaves nothing. A remove writes the state first. At start the
/// saved sandboxes are re-read, never re-created: their namespaces, pins, files and veths outlived the service.
/// </summary>
internal sealed partial class SandboxManager : IHostedLifecycleService, IDisposable
{
    private readonly CommandQueue _queue;
    private readonly Publisher _publisher;
    private readonly PublicationRegistry _registry;
    private readonly IHostSysctls _sysctls;
    private readonly PipelineDeadlines _deadlines;
    private readonly SandboxOptions _options;
    private readonly SandboxStore _store;
    private readonly BridgeNetwork _bridge;
    private readonly ILogger<SandboxManager> _logger;
    private readonly Dictionary<string, SandboxDto> _sandboxes = new(StringComparer.Ordinal);
    private readonly CoalescedCommand _repair;
    private MountNamespaceRunner? _mounts;
    private SandboxMasquerade? _masquerade;
    private LinkEventMonitor? _links;

    public SandboxManager(
        CommandQueue queue,
        Publisher publisher,
        PublicationRegistry registry,
        IHostSysctls sysctls,
        PipelineDeadlines deadlines,
        IOptions<SandboxOptions> options,
        IOptions<PortPublisherOptions> service,
        ILogger<SandboxManager> logger)
    {
        _queue = queue;
        _publisher = publisher;
        _registry = registry;
        _sysctls = sysctls;
        _deadlines = deadlines;
        _options = options.Value;
        _store = new SandboxStore(service.Value.StateDir);
        _bridge = new BridgeNetwork(_options.Bridge, $"portpublisher {Path.GetFullPath(service.Value.StateDir)}");
        _logger = logger;
        _repair = new CoalescedCommand(queue, $"repair bridge {_options.Bridge}", async _ => await RepairBridgeAsync());
    }

    /// <summary>What readers see: replaced after each change, never mutated.</summary>
    public ImmutableArray<SandboxDto> Snapshot { get; private set; } = [];

    /// <summary>Every sandbox, with its publication as it is now.</summary>
    public List<SandboxDto> List() => [.. Snapshot.Select(WithPublication)];

    public SandboxDto? Get(string name) => Snapshot.FirstOrDefault(s => s.Name == name) is { } s ? WithPublication(s) : null;

    /// <summary>Validates at once (bad input never waits behind other commands), then creates on the writer.</summary>
    public Task<SandboxDto> CreateAsync(SandboxCreateRequest request, CancellationToken cancellationToken)
    {
        if (SandboxRequestValidator.Validate(request, out List<string> errors) is not { } valid)
        {
            return Task.FromException<SandboxDto>(new PublishException(HttpStatusCode.BadRequest, string.Join("\n", errors)) { Step = "validate" });
        }

        return _queue.RunAsync($"sandbox create {valid.Name}", ct => CreateOnWriterAsync(valid, ct), cancellationToken);
    }

    public Task<SandboxDto> RemoveAsync(string name, bool force, CancellationToken cancellationToken) =>
        _queue.RunAsync($"sandbox rm {name}", _ => RemoveOnWriterAsync(name, force), cancellationToken);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _mounts = new MountNamespaceRunner(_options.HostMountNamespace);
        if (_mounts.HostMountNamespace is { } hostMounts && _options.HostMountNamespace is null or "" or MountNamespaceRunner.Auto)
        {
            SandboxLog.HostMounts(_logger, hostMounts);
        }
        else if (_options.HostMountNamespace == MountNamespaceRunner.Self && MountNamespaceRunner.Detect() is { } other)
        {
            SandboxLog.Warning(_logger, $"--host-mount-namespace self, but the service's mount namespace is not that of {other}: namespace files made here are empty files there (ip netns cannot enter them)");
        }

        foreach (SandboxDto s in _store.Load().Sandboxes)
        {
            // Every path the service will remove is derived from the name, and must be exactly that: a damaged or
            // hand-edited record ("../../var/lib") would otherwise have a restart delete whatever it names.
            if (Mismatch(s) is { } why)
            {
                throw new InvalidDataException($"cannot read sandbox state {_store.PathName}: the record of \"{s.Name}\" {why}. Fix or move the file away; the service will not start and remove what such a record names.");
            }

            _sandboxes[s.Name] = s;
        }

        // A create or remove that a crash (kill -9, power) cut short: its record names every part it had or was about
        // to make, so finishing it is removing those parts. On the writer, which runs by now (publications are restored
        // first), because its ports are a publication.
        foreach (SandboxDto s in _sandboxes.Values.Where(s => s.Phase is not null).ToList())
        {
            await _queue.RunAsync($"sandbox recover {s.Name}", async _ =>
            {
                await RemovePublicationOf(s);
                await TearDown(s);
                _sandboxes.Remove(s.Name);
                Save(rethrow: false);
                SandboxLog.Recovered(_logger, s.Name, s.Phase!);
                return true;
            }, cancellationToken);
        }

        // Re-read what outlived us: report what someone removed or replaced behind our back, re-create nothing.
        foreach (SandboxDto s in _sandboxes.Values)
        {
            if (s.Netns is { } netns && !s.Joins)
            {
                string? now = await _mounts.RunAsync(() => NamespaceFiles.Identity(netns), _deadlines.Kernel, $"checking {netns}");
                if (now is null)
                {
                    SandboxLog.Lost(_logger, s.Name, "its network namespace", netns);
                }
                else if (s.NetnsId is not null && now != s.NetnsId)
                {
                    SandboxLog.Replaced(_logger, s.Name, netns);
                }
            }
        }

        if (BridgeSandboxes().FirstOrDefault() is { Subnet: { } subnet })
        {
            // The table outlived us (persistent) or was flushed while we were down: take it over, or make it again.
            try
            {
                Masquerade().Install(IPNetwork.Parse(subnet), _bridge.Name);
            }
            catch (NetlinkException e)
            {
                SandboxLog.Warning(_logger, $"cannot install the masquerade table {_options.MasqueradeTableName}: {e.Message}");
            }

            await RepairBridgeAsync();
        }
        else
        {
            // A crash between the last sandbox's removal and its bridge's: the bridge is ours and serves nobody.
            await Cleanup("(none)", $"bridge {_bridge.Name}", () => Kernel(() =>
            {
                if (_bridge.IsOurs())
                {
                    _bridge.Delete();
                    Masquerade().Remove();
                }

                return true;
            }, $"deleting bridge {_bridge.Name}").AsTask());
        }

        try
        {
            _links = new LinkEventMonitor(_repair.Request);
        }
        catch (NetlinkException e)
        {
            SandboxLog.Warning(_logger, $"no rtnetlink events ({e.Message}): a deleted bridge {_bridge.Name} is made again only at the next start");
        }

        Refresh();
        SandboxLog.Restored(_logger, _sandboxes.Count, _store.PathName);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        // Sandboxes outlive the service; so does the persistent masquerade table.
        _links?.Dispose();
        _masquerade?.Dispose();
        _mounts?.Dispose();
    }

    /// <summary>What is wrong with a saved record's name or paths, or null.</summary>
    private string? Mismatch(SandboxDto s)
    {
        if (SandboxName.Check(s.Name) is { } bad)
        {
            return $"has a bad name ({bad})";
        }

        string? other = s.Joins ? s.Network[NetworkMode.ContainerPrefix.Length..] : null;
        if (other is not null && SandboxName.Check(other) is not null)
        {
            return $"joins a bad name ({s.Network})";
        }

        if (s.Netns is not null && s.Netns != Path.Combine(_options.NetnsDir, s.Name))
        {
            return $"names namespace file {s.Netns}, not {Path.Combine(_options.NetnsDir, s.Name)}";
        }

        if (s.EtcDir is not null && s.EtcDir != Path.Combine(_options.EtcNetnsDir, s.Name))
        {
            return $"names {s.EtcDir}, not {Path.Combine(_options.EtcNetnsDir, s.Name)}";
        }

        if (s.UtsNamespace is not null && s.UtsNamespace != Path.Combine(_options.UtsDir, other ?? s.Name) && !(other is not null && Path.GetDirectoryName(s.UtsNamespace) == _options.UtsDir))
        {
            return $"names UTS pin {s.UtsNamespace}, which is not under {_options.UtsDir}";
        }

        if (s.Veth is not null && !VethName().IsMatch(s.Veth))
        {
            return $"names veth {s.Veth}, not veth and 7 hex characters";
        }

        return s.Phase is null or SandboxDto.Creating or SandboxDto.Removing ? null : $"is in an unknown phase \"{s.Phase}\"";
    }

    [System.Text.RegularExpressions.GeneratedRegex("\\Aveth[0-9a-f]{7}\\z", System.Text.RegularExpressions.RegexOptions.CultureInvariant)]
    private static partial System.Text.RegularExpressions.Regex VethName();

    private SandboxMasquerade Masquerade() => _masquerade ??= new SandboxMasquerade(table: _options.MasqueradeTableName);

    /// <summary>The sandboxes with a veth on the bridge (a joiner shares another's).</summary>
    private IEnumerable<SandboxDto> BridgeSandboxes() => _sandboxes.Values.Where(s => s.Bridge is not null && !s.Joins);

    private MountNamespaceRunner Mounts => _mounts ?? throw new InvalidOperationException("the sandbox manager has not started");

    private SandboxDto WithPublication(SandboxDto s) => OwnPublication(s) is { } p ? s with { Publication = p } : s;

    /// <summary>
    /// The publication of the sandbox's name that carries ports into the sandbox: its own -p, or one published later
    /// with --netns NAME. One of that name for another namespace is someone else's.
    /// </summary>
    private PublicationDto? OwnPublication(SandboxDto s) =>
        _registry.Find(s.Name) is { } p && (p.Netns == s.Publication?.Netns || (s.Netns is not null && p.Netns == s.Netns) || (s.Netns is not null && p.Netns == s.Name)) ? p : null;

    private ValueTask<T> Kernel<T>(Func<T> work, string what) => OffWriter.RunAsync(work, _deadlines.Kernel, what, CancellationToken.None);

    private async ValueTask<SandboxDto> CreateOnWriterAsync(ValidatedSandbox v, CancellationToken cancellationToken)
    {
        string name = v.Name;
        string netnsPath = Path.Combine(_options.NetnsDir, name);
        if (_sandboxes.TryGetValue(name, out SandboxDto? existing))
        {
            // ip's own words where there is a namespace file; a host-mode sandbox has none.
            throw new PublishException(HttpStatusCode.Conflict, existing.Netns is not null
                ? $"Cannot create namespace file \"{netnsPath}\": File exists"
                : $"sandbox {name} already exists (--network {existing.Network}); remove it or choose another name") { Step = "validate" };
        }

        if (v.Specs.Count > 0 && v.Network.Kind != NetworkModeKind.Host && _registry.Contains(name))
        {
            throw new PublishException(HttpStatusCode.Conflict, $"the publication name \"{name}\" is already in use: its -p would collide; unpublish it or choose another name") { Step = "validate" };
        }

        if (v.Network.Kind != NetworkModeKind.Host)
        {
            // Before anything is made or saved: a name another tool holds is refused with nothing to undo.
            string etcDir = Path.Combine(_options.EtcNetnsDir, name);
            string? taken = await Mounts.RunAsync(() => File.Exists(netnsPath) ? "netns" : Directory.Exists(etcDir) ? "etc" : null, _deadlines.Kernel, $"checking {netnsPath}");
            if (taken is not null)
            {
                throw new PublishException(HttpStatusCode.Conflict, taken == "netns"
                    ? $"Cannot create namespace file \"{netnsPath}\": File exists"
                    : $"{etcDir} already exists (left by another tool?); remove it or choose another name") { Step = "validate" };
            }
        }

        var tx = new PublishTransaction(_logger, name);
        try
        {
            SandboxDto created = await CreateSteps(v, netnsPath, tx, cancellationToken);
            tx.Commit();
            SandboxLog.Created(_logger, name, created.Network, created.Ip ?? "no address", created.Hostname);
            return WithPublication(created);
        }
        catch (Exception e)
        {
            await tx.RollbackAsync();
            SandboxLog.CreateFailed(_logger, name, tx.Step, e.Message);
            throw e is PublishException pe
                ? (pe.Step is null ? new PublishException(pe.Status, pe.Message, pe) { Step = tx.Step } : pe)
                : new PublishException(HttpStatusCode.InternalServerError, $"{tx.Step}: {e.Message}", e) { Step = tx.Step };
        }
    }

    private async ValueTask<SandboxDto> CreateSteps(ValidatedSandbox v, string netnsPath, PublishTransaction tx, CancellationToken cancellationToken)
    {
        string name = v.Name;
        string id = SandboxId.New();
        string network = v.Network.ToString();
        string etc = _options.EtcNetnsDir;
        string etcDir = Path.Combine(etc, name);
        string uts = Path.Combine(_options.UtsDir, name);
        SandboxDto dto;
        var warnings = new List<string>();

        if (v.Network.Kind == NetworkModeKind.Host)
        {
            // No namespace of its own: Docker's host mode. Its ports are discarded, with Docker's warning.
            dto = new SandboxDto(name, id, network, Environment.MachineName, null, null, null);
        }
        else
        {
            // First everything that names its parts (the address, the veth's name), then the record of the parts, then
            // the parts: a crash anywhere after the record leaves a "creating" record that the next start undoes, and
            // before it nothing but a bridge that serves nobody (the next start removes that too).
            SandboxDto intent;
            if (v.Network.IsContainer)
            {
                tx.Begin("join");
                if (!_sandboxes.TryGetValue(v.Network.Other!, out SandboxDto? other) || other.Phase is not null)
                {
                    throw new PublishException(HttpStatusCode.NotFound, $"No such sandbox: {v.Network.Other}");
                }

                if (other.Netns is null)
                {
                    throw new PublishException(HttpStatusCode.BadRequest, $"cannot join the network namespace of sandbox {other.Name}: it uses --network host");
                }

                // Docker's container mode shares the other's hosts, resolv.conf and hostname (and so its UTS namespace).
                intent = new SandboxDto(name, id, network, other.Hostname, netnsPath, other.UtsNamespace, etcDir, other.Ip, other.Subnet, other.Gateway, other.Bridge, Mac: other.Mac, Phase: SandboxDto.Creating, NetnsId: other.NetnsId);
            }
            else if (v.Network.Kind == NetworkModeKind.Bridge)
            {
                intent = await PlanBridge(v, id, netnsPath, uts, etcDir, tx);
            }
            else
            {
                intent = new SandboxDto(name, id, "none", v.Hostname ?? SandboxId.DefaultHostname(id), netnsPath, uts, etcDir, Phase: SandboxDto.Creating);
            }

            tx.Begin("persist");
            _sandboxes[name] = intent;
            tx.OnRollback("persist", () =>
            {
                _sandboxes.Remove(name);
                Save(rethrow: false);
                Refresh();
            });
            Save(rethrow: true);
            dto = v.Network.IsContainer ? await Join(v, intent, tx) : await Make(v, intent, tx);
        }

        // Its ports: a publication of the same name, with the sandbox's record saved before it.
        PublicationDto? publication = null;
        bool publishes = v.Specs.Count > 0;
        dto = dto with { Publication = publishes ? new PublicationDto(name, dto.Netns ?? "host", []) : null };
        if (dto.Phase is null)
        {
            tx.Begin("persist");
            _sandboxes[name] = dto;
            tx.OnRollback("persist", () =>
            {
                _sandboxes.Remove(name);
                Save(rethrow: false);
                Refresh();
            });
        }

        _sandboxes[name] = dto;
        Save(rethrow: true);

        if (publishes)
        {
            // Host mode goes the same way: the publisher discards its ports with Docker's warning, and `port` prints
            // nothing, as `docker port` does for a host-mode container.
            tx.Begin("publish");
            ValidatedPublish request = PublishValidator.Validate(new PublishRequest(name, v.Network.Kind == NetworkModeKind.Host ? "host" : netnsPath, v.Specs));
            publication = await _publisher.PublishAsync(request, cancellationToken);
            tx.OnRollback("unpublish", async () => await _publisher.UnpublishAsync(name));
            warnings.AddRange(publication.Warnings ?? []);
        }

        tx.Begin("persist");
        dto = dto with { Warnings = warnings.Count > 0 ? warnings : null, Phase = null };
        _sandboxes[name] = dto;
        Save(rethrow: true);
        Refresh();
        return publication is null ? dto : dto with { Publication = publication };
    }

    /// <summary>The bridge (made if need be), the masquerade rule, an address and the veth's name: everything a bridge sandbox's record names.</summary>
    private async ValueTask<SandboxDto> PlanBridge(ValidatedSandbox v, string id, string netnsPath, string uts, string etcDir, PublishTransaction tx)
    {
        tx.Begin("create bridge");
        List<string> ours = [.. BridgeSandboxes().Where(s => s.Veth is not null).Select(s => s.Veth!)];
        (IPNetwork subnet, IPAddress gateway, bool created) = await Kernel(() => _bridge.Ensure(ours), $"creating bridge {_bridge.Name}");
        bool first = !BridgeSandboxes().Any();
        if (created || first)
        {
            tx.OnRollback("remove bridge", () =>
            {
                if (!BridgeSandboxes().Any(s => s.Name != v.Name))
                {
                    _bridge.Delete();
                }
            });
        }

        tx.Begin("masquerade");
        await Kernel(() =>
        {
            Masquerade().Install(subnet, _bridge.Name);
            return true;
        }, "installing the masquerade rule");
        if (first)
        {
            tx.OnRollback("remove masquerade table", () => Masquerade().Remove());
        }

        _sysctls.EnsureFor(new Target(gateway, null, true, false, _bridge.Name));

        tx.Begin("allocate address");
        List<IPAddress> used = [.. BridgeSandboxes().Where(s => s.Ip is not null).Select(s => IPAddress.Parse(s.Ip!))];
        IPAddress address;
        if (v.Ip is { } requested)
        {
            address = Ipam.CheckRequested(subnet, requested, used) is { } why ? throw new PublishException(HttpStatusCode.BadRequest, why) : requested;
        }
        else
        {
            address = Ipam.FirstFree(subnet, used) ?? throw new PublishException(HttpStatusCode.Conflict, $"no free address left in {subnet}");
        }

        string veth = await Kernel(BridgeNetwork.FreeVethName, "choosing a veth name");
        string hostname = v.Hostname ?? SandboxId.DefaultHostname(id);
        return new SandboxDto(v.Name, id, "bridge", hostname, netnsPath, uts, etcDir, address.ToString(), subnet.ToString(), gateway.ToString(), _bridge.Name, veth, Phase: SandboxDto.Creating);
    }

    /// <summary>container:OTHER: OTHER's namespace file bound at NAME, and OTHER's /etc/netns files.</summary>
    private async ValueTask<SandboxDto> Join(ValidatedSandbox v, SandboxDto intent, PublishTransaction tx)
    {
        string name = v.Name, netnsPath = intent.Netns!, etc = _options.EtcNetnsDir;
        SandboxDto other = _sandboxes[v.Network.Other!];
        tx.Begin("join");
        await Mounts.RunAsync(() => NamespaceFiles.BindExisting(other.Netns!, _options.NetnsDir, name), _deadlines.Kernel, $"creating {netnsPath}");
        tx.OnRollback("remove namespace file", () => Mounts.RunAsync(() => NamespaceFiles.Remove(netnsPath), _deadlines.Kernel, $"removing {netnsPath}"));

        tx.Begin("write /etc/netns files");
        await Mounts.RunAsync(() => NamespaceFiles.WriteEtc(etc, name, NamespaceFiles.ReadEtc(etc, other.Name)), _deadlines.Kernel, "writing /etc/netns files");
        tx.OnRollback("remove /etc/netns files", () => Mounts.RunAsync(() => NamespaceFiles.RemoveEtc(etc, name), _deadlines.Kernel, "removing /etc/netns files"));
        return intent;
    }

    /// <summary>bridge and none: the namespace, its links, the UTS pin and the /etc/netns files, each with its undo.</summary>
    private async ValueTask<SandboxDto> Make(ValidatedSandbox v, SandboxDto intent, PublishTransaction tx)
    {
        string name = v.Name, netnsPath = intent.Netns!, uts = intent.UtsNamespace!, etc = _options.EtcNetnsDir;
        tx.Begin("create network namespace");
        await Mounts.RunAsync(() => NamespaceFiles.CreateNetworkNamespace(_options.NetnsDir, name), _deadlines.Kernel, $"creating {netnsPath}");
        tx.OnRollback("remove namespace file", () => Mounts.RunAsync(() => NamespaceFiles.Remove(netnsPath), _deadlines.Kernel, $"removing {netnsPath}"));
        NetworkNamespace ns = await Mounts.RunAsync(() => NetworkNamespace.Open(netnsPath), _deadlines.Kernel, $"opening {netnsPath}");
        try
        {
            string? mac = null;
            if (intent.Veth is { } veth)
            {
                tx.Begin("create veth");
                mac = await Kernel(() => _bridge.Attach(ns, veth, IPAddress.Parse(intent.Ip!), IPNetwork.Parse(intent.Subnet!), IPAddress.Parse(intent.Gateway!)), "connecting the sandbox to the bridge");
                tx.OnRollback("remove veth", () => BridgeNetwork.Detach(veth));
            }
            else
            {
                tx.Begin("bring lo up");
                await Kernel(() =>
                {
                    BridgeNetwork.LoopbackUp(ns);
                    return true;
                }, "bringing lo up");
            }

            bool ipv6 = await Kernel(() => BridgeNetwork.HasIPv6Loopback(ns), "reading the sandbox's addresses");

            tx.Begin("pin the UTS namespace");
            await Mounts.RunAsync(() => NamespaceFiles.CreateUtsNamespace(_options.UtsDir, name, intent.Hostname), _deadlines.Kernel, $"pinning {uts}");
            tx.OnRollback("remove UTS pin", () => Mounts.RunAsync(() => NamespaceFiles.Remove(uts), _deadlines.Kernel, $"removing {uts}"));

            tx.Begin("write /etc/netns files");
            Dictionary<string, string> files = await Mounts.RunAsync(() => Files(v, intent, ipv6), _deadlines.Kernel, "reading the host's resolv.conf");
            await Mounts.RunAsync(() => NamespaceFiles.WriteEtc(etc, name, files), _deadlines.Kernel, "writing /etc/netns files");
            tx.OnRollback("remove /etc/netns files", () => Mounts.RunAsync(() => NamespaceFiles.RemoveEtc(etc, name), _deadlines.Kernel, "removing /etc/netns files"));

            string? identity = await Mounts.RunAsync(() => NamespaceFiles.Identity(netnsPath), _deadlines.Kernel, $"reading {netnsPath}");
            return intent with { Mac = mac, NetnsId = identity };
        }
        finally
        {
            ns.Dispose();
        }
    }

    private static Dictionary<string, string> Files(ValidatedSandbox v, SandboxDto dto, bool ipv6)
    {
        string etcResolv = File.Exists("/etc/resolv.conf") ? File.ReadAllText("/etc/resolv.conf") : string.Empty;
        string source = ResolvConf.SourcePath(etcResolv);
        string host = source == "/etc/resolv.conf" ? etcResolv : File.Exists(source) ? File.ReadAllText(source) : string.Empty;
        IEnumerable<ExtraHost> extra = v.AddHosts.Select(e => e.Ip == ExtraHost.HostGateway && dto.Gateway is not null ? e with { Ip = dto.Gateway } : e);
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["hosts"] = EtcHosts.Build(ipv6, extra, dto.Ip, dto.Hostname),
            ["resolv.conf"] = ResolvConf.Generate(host, source, v.Dns, v.DnsSearch, v.DnsOptions, ipv6: false),
            ["hostname"] = dto.Hostname + "\n",
        };
    }

    private async ValueTask<SandboxDto> RemoveOnWriterAsync(string name, bool force)
    {
        if (!_sandboxes.TryGetValue(name, out SandboxDto? s))
        {
            throw new PublishException(HttpStatusCode.NotFound, $"No such sandbox: {name}");
        }

        if (Joiners(name) is { Count: > 0 } joiners)
        {
            // Each link of the chain, so the hint names every sandbox in it: "b joins a, c joins b".
            string links = string.Join(", ", joiners.Select(j => $"{j} joins {_sandboxes[j].Network[NetworkMode.ContainerPrefix.Length..]}").Reverse());
            throw new PublishException(HttpStatusCode.Conflict, $"cannot remove sandbox {name}: {links} (--network container:…); remove {(joiners.Count == 1 ? "it" : "them")} first, or together: sandbox rm {string.Join(' ', joiners)} {name}");
        }

        // Processes left in it would lose their network (its namespace goes with it) or their /etc files (a joiner's
        // go): those are refused, or killed with --force. For a joiner, the processes are those that entered through
        // it, found by their /etc/netns/JOINER bind mounts (the namespace is the other sandbox's too).
        if (s.NetnsId is { } identity && s.Netns is { } netns)
        {
            string? through = s.Joins ? s.EtcDir : null;
            List<(int Pid, string Command)> inside = await Mounts.RunAsync(() => NamespaceFiles.Identity(netns) == identity ? NamespaceFiles.ProcessesIn(identity, through) : [], _deadlines.Kernel, $"listing the processes in {name}");
            if (inside.Count > 0 && !force)
            {
                throw new PublishException(HttpStatusCode.Conflict, $"cannot remove sandbox {name}: {Describe(inside)} {(inside.Count == 1 ? "runs" : "run")} in it; stop {(inside.Count == 1 ? "it" : "them")} first, or `sandbox rm --force {name}` kills {(inside.Count == 1 ? "it" : "them")}");
            }

            if (inside.Count > 0)
            {
                foreach ((int pid, _) in inside)
                {
                    _ = Tmds.Linux.LibC.kill(pid, Tmds.Linux.LibC.SIGKILL);
                }

                SandboxLog.Killed(_logger, name, inside.Count, Describe(inside));
            }
        }

        // The record first: a disk that cannot take it refuses the remove with nothing changed (507). Then its ports,
        // and a failure there puts the record back as it was.
        SandboxDto removing = s with { Phase = SandboxDto.Removing };
        _sandboxes[name] = removing;
        try
        {
            Save(rethrow: true);
        }
        catch
        {
            _sandboxes[name] = s;
            throw;
        }

        try
        {
            await RemovePublicationOf(s);
        }
        catch
        {
            _sandboxes[name] = s;
            Save(rethrow: false);
            throw;
        }

        Refresh();
        await TearDown(s);
        _sandboxes.Remove(name);

        // Saved or not, it is gone: a record left "removing" by a full disk is finished at the next start.
        Save(rethrow: false);
        Refresh();
        SandboxLog.Removed(_logger, name);
        return s;
    }

    /// <summary>Every sandbox that joins <paramref name="name"/>, directly or through another, in an order they can be removed in.</summary>
    private List<string> Joiners(string name)
    {
        var order = new List<string>();
        void Visit(string n)
        {
            foreach (SandboxDto j in _sandboxes.Values.Where(j => j.Network == NetworkMode.ContainerPrefix + n).OrderBy(j => j.Name, StringComparer.Ordinal))
            {
                if (!order.Contains(j.Name))
                {
                    Visit(j.Name);
                    order.Add(j.Name);
                }
            }
        }

        Visit(name);
        return order;
    }

    private static string Describe(List<(int Pid, string Command)> processes) =>
        string.Join(", ", processes.Take(5).Select(p => FormattableString.Invariant($"{p.Pid} ({p.Command})"))) + (processes.Count > 5 ? $" and {processes.Count - 5} more" : string.Empty);

    /// <summary>The sandbox's own publication, if it still has one: one that took its name later is someone else's.</summary>
    private async ValueTask RemovePublicationOf(SandboxDto s)
    {
        if (OwnPublication(s) is not null)
        {
            await _publisher.UnpublishAsync(s.Name);
        }
    }

    /// <summary>Removes every part the record names, best effort: each goes, what cannot is logged. Then the bridge if it serves nobody.</summary>
    private async ValueTask TearDown(SandboxDto s)
    {
        string name = s.Name;
        if (s.Veth is not null && !s.Joins)
        {
            await Cleanup(name, $"veth {s.Veth}", () => Kernel(() =>
            {
                BridgeNetwork.Detach(s.Veth);
                return true;
            }, $"deleting {s.Veth}").AsTask());
        }

        if (s.EtcDir is not null)
        {
            await Cleanup(name, s.EtcDir, () => Mounts.RunAsync(() => NamespaceFiles.RemoveEtc(_options.EtcNetnsDir, name), _deadlines.Kernel, $"removing {s.EtcDir}").AsTask());
        }

        if (s.UtsNamespace is not null && !s.Joins)
        {
            await Cleanup(name, s.UtsNamespace, () => Mounts.RunAsync(() => NamespaceFiles.Remove(s.UtsNamespace), _deadlines.Kernel, $"removing {s.UtsNamespace}").AsTask());
        }

        if (s.Netns is { } netns)
        {
            await Cleanup(name, netns, () => Mounts.RunAsync(() =>
            {
                // Only ours: after `ip netns del` and `ip netns add` of the same name the file is someone else's.
                string? now = NamespaceFiles.Identity(netns);
                if (s.NetnsId is not null && now is not null && now != s.NetnsId)
                {
                    SandboxLog.Replaced(_logger, name, netns);
                    return;
                }

                NamespaceFiles.Remove(netns);
            }, _deadlines.Kernel, $"removing {netns}").AsTask());
        }

        if (s.UtsNamespace is not null && !s.Joins && !_sandboxes.Values.Any(o => o.Name != name && o.UtsNamespace is not null))
        {
            await Cleanup(name, _options.UtsDir, () => Mounts.RunAsync(() => NamespaceFiles.ReleaseIfEmpty(_options.UtsDir), _deadlines.Kernel, $"unmounting {_options.UtsDir}").AsTask());
        }

        if (s.Bridge is not null && !s.Joins && !BridgeSandboxes().Any(o => o.Name != name))
        {
            // The bridge and the masquerade rule go with the last sandbox on it.
            await Cleanup(name, $"bridge {s.Bridge}", () => Kernel(() =>
            {
                if (_bridge.IsOurs())
                {
                    _bridge.Delete();
                }

                Masquerade().Remove();
                return true;
            }, $"deleting bridge {s.Bridge}").AsTask());
        }
    }

    /// <summary>Makes the bridge again, with its subnet and the sandboxes' veths, when someone deleted it.</summary>
    private async ValueTask RepairBridgeAsync()
    {
        List<SandboxDto> on = [.. BridgeSandboxes().Where(s => s.Phase is null)];
        if (on.FirstOrDefault() is not { Subnet: { } subnet, Gateway: { } gateway })
        {
            return;
        }

        List<string> veths = [.. on.Where(s => s.Veth is not null).Select(s => s.Veth!)];
        int attached;
        try
        {
            attached = await Kernel(() => _bridge.Repair(IPNetwork.Parse(subnet), IPAddress.Parse(gateway), veths), $"checking bridge {_bridge.Name}");
        }
        catch (Exception e) when (e is NetlinkException or PublishException or IOException)
        {
            SandboxLog.Warning(_logger, $"cannot make bridge {_bridge.Name} again: {e.Message}");
            return;
        }

        if (attached >= 0)
        {
            _sysctls.EnsureFor(new Target(IPAddress.Parse(gateway), null, true, false, _bridge.Name));
            SandboxLog.BridgeRepaired(_logger, _bridge.Name, subnet, attached);
        }
    }

    private async Task Cleanup(string name, string what, Func<Task> work)
    {
        try
        {
            await work();
        }
#pragma warning disable CA1031 // removal goes on with the other parts; this one is logged
        catch (Exception e)
#pragma warning restore CA1031
        {
            SandboxLog.CleanupFailed(_logger, name, what, e.Message);
        }
    }

    private void Save(bool rethrow)
    {
        try
        {
            _store.Save(new SandboxStateFile(SandboxStateFile.CurrentVersion, [.. _sandboxes.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => s with { Publication = s.Publication is null ? null : new PublicationDto(s.Name, s.Publication.Netns, []) })]));
        }
        catch (PublishException e) when (!rethrow)
        {
            SandboxLog.Warning(_logger, e.Message);
        }
    }

    private void Refresh() => Snapshot = [.. _sandboxes.Values.OrderBy(s => s.Name, StringComparer.Ordinal)];
}
