using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PortPublisher.Core.Api;
using PortPublisher.Core.Sandboxes;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
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
internal sealed class SandboxManager : IHostedLifecycleService, IDisposable
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
    private MountNamespaceRunner? _mounts;
    private SandboxMasquerade? _masquerade;

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
        _bridge = new BridgeNetwork(_options.Bridge);
        _logger = logger;
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

    public Task<SandboxDto> RemoveAsync(string name, CancellationToken cancellationToken) =>
        _queue.RunAsync($"sandbox rm {name}", _ => RemoveOnWriterAsync(name), cancellationToken);

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        _mounts = new MountNamespaceRunner(_options.HostMountNamespace);
        foreach (SandboxDto s in _store.Load().Sandboxes)
        {
            _sandboxes[s.Name] = s;
        }

        // Re-read what outlived us: report what someone removed behind our back, re-create nothing.
        foreach (SandboxDto s in _sandboxes.Values)
        {
            if (s.Netns is { } netns && !s.Network.StartsWith(NetworkMode.ContainerPrefix, StringComparison.Ordinal)
                && !await _mounts.RunAsync(() => NamespaceFiles.IsNamespace(netns), _deadlines.Kernel, $"checking {netns}"))
            {
                SandboxLog.Lost(_logger, s.Name, "its network namespace", netns);
            }
        }

        if (_sandboxes.Values.FirstOrDefault(s => s.Subnet is not null) is { Subnet: { } subnet })
        {
            // The table outlived us (persistent) or was flushed while we were down: take it over, or make it again.
            try
            {
                Masquerade().Install(IPNetwork.Parse(subnet), _bridge.Name);
            }
            catch (NetlinkException e)
            {
                SandboxLog.Warning(_logger, $"cannot install the masquerade table {_options.MasqueradeTable}: {e.Message}");
            }
        }

        Snapshot = [.. _sandboxes.Values.OrderBy(s => s.Name, StringComparer.Ordinal)];
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
        _masquerade?.Dispose();
        _mounts?.Dispose();
    }

    private SandboxMasquerade Masquerade() => _masquerade ??= new SandboxMasquerade(table: _options.MasqueradeTable);

    private MountNamespaceRunner Mounts => _mounts ?? throw new InvalidOperationException("the sandbox manager has not started");

    private SandboxDto WithPublication(SandboxDto s) =>
        _registry.Snapshot.FirstOrDefault(p => p.Name == s.Name && s.Publication is not null) is { } p ? s with { Publication = p } : s;

    private ValueTask<T> Kernel<T>(Func<T> work, string what) => OffWriter.RunAsync(work, _deadlines.Kernel, what, CancellationToken.None);

    private async ValueTask<SandboxDto> CreateOnWriterAsync(ValidatedSandbox v, CancellationToken cancellationToken)
    {
        string name = v.Name;
        string netnsPath = Path.Combine(_options.NetnsDir, name);
        if (_sandboxes.ContainsKey(name))
        {
            throw new PublishException(HttpStatusCode.Conflict, $"Cannot create namespace file \"{netnsPath}\": File exists") { Step = "validate" };
        }

        if (v.Specs.Count > 0 && v.Network.Kind != NetworkModeKind.Host && _registry.Contains(name))
        {
            throw new PublishException(HttpStatusCode.Conflict, $"the publication name \"{name}\" is already in use: its -p would collide; unpublish it or choose another name") { Step = "validate" };
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
        SandboxDto dto;
        var warnings = new List<string>();

        if (v.Network.Kind == NetworkModeKind.Host)
        {
            // No namespace of its own: Docker's host mode. Its ports are discarded, with Docker's warning.
            dto = new SandboxDto(name, id, network, Environment.MachineName, null, null, null);
        }
        else if (v.Network.IsContainer)
        {
            tx.Begin("join");
            if (!_sandboxes.TryGetValue(v.Network.Other!, out SandboxDto? other))
            {
                throw new PublishException(HttpStatusCode.NotFound, $"No such sandbox: {v.Network.Other}");
            }

            if (other.Netns is null)
            {
                throw new PublishException(HttpStatusCode.BadRequest, $"cannot join the network namespace of sandbox {other.Name}: it uses --network host");
            }

            await Mounts.RunAsync(() => NamespaceFiles.BindExisting(other.Netns, _options.NetnsDir, name), _deadlines.Kernel, $"creating {netnsPath}");
            tx.OnRollback("remove namespace file", () => Mounts.RunAsync(() => NamespaceFiles.Remove(netnsPath), _deadlines.Kernel, $"removing {netnsPath}"));

            // Docker's container mode shares the other's hosts, resolv.conf and hostname (and so its UTS namespace).
            tx.Begin("write /etc/netns files");
            await Mounts.RunAsync(() => NamespaceFiles.WriteEtc(etc, name, NamespaceFiles.ReadEtc(etc, other.Name)), _deadlines.Kernel, "writing /etc/netns files");
            tx.OnRollback("remove /etc/netns files", () => Mounts.RunAsync(() => NamespaceFiles.RemoveEtc(etc, name), _deadlines.Kernel, "removing /etc/netns files"));
            dto = new SandboxDto(name, id, network, other.Hostname, netnsPath, other.UtsNamespace, Path.Combine(etc, name), other.Ip, other.Subnet, other.Gateway, other.Bridge, Mac: other.Mac);
        }
        else
        {
            tx.Begin("create network namespace");
            await Mounts.RunAsync(() => NamespaceFiles.CreateNetworkNamespace(_options.NetnsDir, name), _deadlines.Kernel, $"creating {netnsPath}");
            tx.OnRollback("remove namespace file", () => Mounts.RunAsync(() => NamespaceFiles.Remove(netnsPath), _deadlines.Kernel, $"removing {netnsPath}"));
            NetworkNamespace ns = await Mounts.RunAsync(() => NetworkNamespace.Open(netnsPath), _deadlines.Kernel, $"opening {netnsPath}");
            try
            {
                dto = v.Network.Kind == NetworkModeKind.Bridge
                    ? await ConnectBridge(v, id, netnsPath, ns, tx)
                    : await ConnectNone(v, id, netnsPath, ns);
                bool ipv6 = await Kernel(() => BridgeNetwork.HasIPv6Loopback(ns), "reading the sandbox's addresses");

                tx.Begin("pin the UTS namespace");
                string uts = Path.Combine(_options.UtsDir, name);
                await Mounts.RunAsync(() => NamespaceFiles.CreateUtsNamespace(_options.UtsDir, name, dto.Hostname), _deadlines.Kernel, $"pinning {uts}");
                tx.OnRollback("remove UTS pin", () => Mounts.RunAsync(() => NamespaceFiles.Remove(uts), _deadlines.Kernel, $"removing {uts}"));

                tx.Begin("write /etc/netns files");
                Dictionary<string, string> files = await Mounts.RunAsync(() => Files(v, dto, ipv6), _deadlines.Kernel, "reading the host's resolv.conf");
                await Mounts.RunAsync(() => NamespaceFiles.WriteEtc(etc, name, files), _deadlines.Kernel, "writing /etc/netns files");
                tx.OnRollback("remove /etc/netns files", () => Mounts.RunAsync(() => NamespaceFiles.RemoveEtc(etc, name), _deadlines.Kernel, "removing /etc/netns files"));
                dto = dto with { UtsNamespace = uts, EtcDir = Path.Combine(etc, name) };
            }
            finally
            {
                ns.Dispose();
            }
        }

        // Saved before its ports: a crash from here on finds it on restart (and its publication in state.json).
        tx.Begin("persist");
        PublicationDto? publication = null;
        bool publishes = v.Specs.Count > 0;
        dto = dto with { Publication = publishes ? new PublicationDto(name, dto.Netns ?? "host", []) : null };
        _sandboxes[name] = dto;
        tx.OnRollback("persist", () =>
        {
            _sandboxes.Remove(name);
            Save(rethrow: false);
        });
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

        dto = dto with { Warnings = warnings.Count > 0 ? warnings : null };
        _sandboxes[name] = dto;
        Save(rethrow: true);
        Refresh();
        return publication is null ? dto : dto with { Publication = publication };
    }

    private async ValueTask<SandboxDto> ConnectBridge(ValidatedSandbox v, string id, string netnsPath, NetworkNamespace ns, PublishTransaction tx)
    {
        tx.Begin("create bridge");
        (IPNetwork subnet, IPAddress gateway, bool created) = await Kernel(_bridge.Ensure, $"creating bridge {_bridge.Name}");
        bool first = !_sandboxes.Values.Any(s => s.Bridge is not null);
        if (created || first)
        {
            tx.OnRollback("remove bridge", () =>
            {
                if (!_sandboxes.Values.Any(s => s.Bridge is not null && s.Name != v.Name))
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
        List<IPAddress> used = [.. _sandboxes.Values.Where(s => s.Ip is not null && s.Network == "bridge").Select(s => IPAddress.Parse(s.Ip!))];
        IPAddress address;
        if (v.Ip is { } requested)
        {
            address = Ipam.CheckRequested(subnet, requested, used) is { } why ? throw new PublishException(HttpStatusCode.BadRequest, why) : requested;
        }
        else
        {
            address = Ipam.FirstFree(subnet, used) ?? throw new PublishException(HttpStatusCode.Conflict, $"no free address left in {subnet}");
        }

        tx.Begin("create veth");
        (string veth, string mac) = await Kernel(() => _bridge.Attach(ns, address, subnet, gateway), "connecting the sandbox to the bridge");
        tx.OnRollback("remove veth", () => BridgeNetwork.Detach(veth));
        string hostname = v.Hostname ?? SandboxId.DefaultHostname(id);
        return new SandboxDto(v.Name, id, "bridge", hostname, netnsPath, null, null, address.ToString(), subnet.ToString(), gateway.ToString(), _bridge.Name, veth, mac);
    }

    private async ValueTask<SandboxDto> ConnectNone(ValidatedSandbox v, string id, string netnsPath, NetworkNamespace ns)
    {
        await Kernel(() =>
        {
            BridgeNetwork.LoopbackUp(ns);
            return true;
        }, "bringing lo up");
        return new SandboxDto(v.Name, id, "none", v.Hostname ?? SandboxId.DefaultHostname(id), netnsPath, null, null);
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

    private async ValueTask<SandboxDto> RemoveOnWriterAsync(string name)
    {
        if (!_sandboxes.TryGetValue(name, out SandboxDto? s))
        {
            throw new PublishException(HttpStatusCode.NotFound, $"No such sandbox: {name}");
        }

        List<string> joiners = [.. _sandboxes.Values.Where(j => j.Network == NetworkMode.ContainerPrefix + name).Select(j => j.Name)];
        if (joiners.Count > 0)
        {
            throw new PublishException(HttpStatusCode.Conflict, $"cannot remove sandbox {name}: {string.Join(", ", joiners)} {(joiners.Count == 1 ? "joins" : "join")} its network (--network container:{name}); remove {(joiners.Count == 1 ? "it" : "them")} first, or together: sandbox rm {string.Join(' ', joiners)} {name}");
        }

        // Its ports first, state first: a failure here leaves the sandbox whole.
        if (_registry.Contains(name) && s.Publication is not null)
        {
            await _publisher.UnpublishAsync(name);
        }

        _sandboxes.Remove(name);
        try
        {
            Save(rethrow: true);
        }
        catch
        {
            _sandboxes[name] = s;
            throw;
        }

        Refresh();

        // From here on best effort: each part goes, and what cannot is logged.
        bool shared = s.Network.StartsWith(NetworkMode.ContainerPrefix, StringComparison.Ordinal);
        if (s.Veth is not null && !shared)
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

        if (s.UtsNamespace is not null && !shared)
        {
            await Cleanup(name, s.UtsNamespace, () => Mounts.RunAsync(() => NamespaceFiles.Remove(s.UtsNamespace), _deadlines.Kernel, $"removing {s.UtsNamespace}").AsTask());
        }

        if (s.Netns is not null)
        {
            await Cleanup(name, s.Netns, () => Mounts.RunAsync(() => NamespaceFiles.Remove(s.Netns), _deadlines.Kernel, $"removing {s.Netns}").AsTask());
        }

        if (s.Bridge is not null && !shared && !_sandboxes.Values.Any(o => o.Bridge is not null))
        {
            // The bridge and the masquerade rule go with the last sandbox on it.
            await Cleanup(name, $"bridge {s.Bridge}", () => Kernel(() =>
            {
                _bridge.Delete();
                Masquerade().Remove();
                return true;
            }, $"deleting bridge {s.Bridge}").AsTask());
        }

        SandboxLog.Removed(_logger, name);
        return s;
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
