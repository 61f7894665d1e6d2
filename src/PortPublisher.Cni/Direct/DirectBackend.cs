using Microsoft.Extensions.Logging;
using PortPublisher.Cni.Spec;
using PortPublisher.Cni.Publishing;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Conntrack;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni.Direct;

/// <summary>
/// The plugin programs the tables itself, for when portpublisherd does not run: the service's ruleset (the same maps,
/// O(1) per packet; hairpin; loopback guard) in tables of its own (<c>ip</c>/<c>ip6 portpublisher-cni</c>), which the
/// service never touches, with <c>STATE_DIR/state.json</c> naming each attachment's elements. Every change runs under
/// the state directory's exclusive flock and is one nftables transaction: the state is written first (the intent),
/// then the elements are applied, or the whole table rebuilt from the state when it is missing or was changed by
/// someone else (a flush is repaired by the next ADD, DEL or GC). A failure puts the old state back and rebuilds from it.
/// The tables go with the last attachment.
/// </summary>
internal sealed class DirectBackend(NetConf conf, TimeProvider time, ILogger logger) : IPortBackend
{
    private readonly DirectStateStore _store = new(conf.StateDir);

    public string Name => "direct";

    private NftablesOptions TableOptions => new()
    {
        TableName = conf.Table,
        HairpinMark = 1u << conf.MarkMasqBit,
        LoopbackGuard = true,

        // The runtime holds the host ports (or nobody does, as with portmap), so no proxy stands behind a wildcard:
        // the host's own 127.0.0.1 clients are DNAT'ed too (snat: route_localnet on the link to the container).
        LoopbackByProxy = false,
        Owned = false,
    };

    public async Task AddAsync(AddRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        IReadOnlyList<NatBinding> wanted = request.Plan.Bindings;
        using (await StateLock.AcquireAsync(conf.StateDir, exclusive: true, conf.Timeout, time, cancellationToken))
        {
            Add(request, wanted);
        }

        // Outside the lock: a conntrack dump can be long, and the next plugin need not wait for it.
        FlushUdp(wanted);
    }

    private void Add(AddRequest request, IReadOnlyList<NatBinding> wanted)
    {
        DirectStateFile before = _store.Load();
        List<StoredAttachment> others = [.. before.Attachments.Where(a => !a.Is(request.Attachment))];

        PortConflicts.ThrowIfTaken(wanted, others.SelectMany(a => a.Bindings.Select(b => b.ToNat())), "another attachment of portpublisher-cni (direct mode)");
        PortConflicts.ThrowIfTaken(wanted, ServiceElements(), $"portpublisherd (table {conf.ServiceTable})");

        string? link = null;
        if (BindingPlan.NeedsLocalnet(wanted, request.Snat) && request.Plan.ContainerV4 is { } v4)
        {
            link = HostSysctls.LinkTo(v4);
        }

        var attachment = new StoredAttachment(request.Attachment.ContainerId, request.Attachment.IfName, request.Network, request.Netns, request.Snat, link, [.. wanted.Select(StoredNatBinding.From)]);
        DirectStateFile after = WithLocalnet(before with { Attachments = [.. others, attachment] });
        _store.Save(after);
        try
        {
            Program(before, after);
            HostSysctls.EnableForwarding(wanted.Any(b => !b.IsIPv6), wanted.Any(b => b.IsIPv6));
            SyncLocalnet(after);
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException or IOException or UnauthorizedAccessException)
        {
            Restore(before, after);
            throw e is NetlinkException or NetlinkProtocolException
                ? new CniException(CniErrorCode.ErrNftables, $"nftables (table {conf.Table}): {e.Message}; nothing was changed")
                : new CniException(CniErrorCode.ErrIOFailure, $"host sysctls: {e.Message}; nothing was changed");
        }
    }

    public async Task<bool> DelAsync(Attachment attachment, CancellationToken cancellationToken)
    {
        if (!File.Exists(_store.PathName))
        {
            return false; // nothing published here: no lock, no tables touched
        }

        List<NatBinding> removed;
        using (await StateLock.AcquireAsync(conf.StateDir, exclusive: true, conf.Timeout, time, cancellationToken))
        {
            DirectStateFile before = _store.Load();
            StoredAttachment? gone = before.Attachments.FirstOrDefault(a => a.Is(attachment));
            if (gone is null)
            {
                return false;
            }

            removed = Remove(before, [gone]);
        }

        FlushUdp(removed);
        return true;
    }

    public async Task<bool> HasAsync(Attachment attachment, CancellationToken cancellationToken)
    {
        if (!File.Exists(_store.PathName))
        {
            return false;
        }

        using StateLock held = await StateLock.AcquireAsync(conf.StateDir, exclusive: false, conf.Timeout, time, cancellationToken);
        return _store.Load().Attachments.Any(a => a.Is(attachment));
    }

    public async Task CheckAsync(Attachment attachment, IReadOnlyList<NatBinding> expected, bool snat, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(expected);
        using StateLock held = await StateLock.AcquireAsync(conf.StateDir, exclusive: false, conf.Timeout, time, cancellationToken);
        DirectStateFile state = _store.Load();
        StoredAttachment ours = state.Attachments.FirstOrDefault(a => a.Is(attachment))
            ?? throw new CniException(CniErrorCode.ErrCheckFailed, $"attachment {attachment} has no port mappings published by portpublisher-cni (direct mode, {_store.PathName})");

        var problems = new List<string>();
        HashSet<NatBinding> stored = [.. ours.Bindings.Select(b => b.ToNat())];
        problems.AddRange(expected.Where(b => !stored.Contains(b)).Select(b => $"{b} was not published"));
        problems.AddRange(stored.Where(b => !expected.Contains(b)).Select(b => $"{b} is published but not in this CHECK's port mappings"));

        try
        {
            using var nft = new NftablesBackend(null, TableOptions);
            RulesetCheck check = nft.Check(Expected(state));
            if (check.State == RulesetState.Missing)
            {
                problems.Add($"the tables ip/ip6 {conf.Table} are missing");
            }
            else
            {
                // Someone else's missing element is their CHECK's business; chains and rules are everyone's.
                problems.AddRange(check.Differences.Where(d => !d.StartsWith("missing element", StringComparison.Ordinal) && !d.StartsWith("unexpected element", StringComparison.Ordinal)));
                HashSet<NatBinding> kernel = [.. nft.ReadBindings()];
                problems.AddRange(stored.Where(b => !kernel.Contains(b)).Select(b => $"element {b} is missing from the tables"));
            }
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            problems.Add($"nftables cannot be read: {e.Message}");
        }

        if (ours.LocalnetLink is string link && HostSysctls.ReadLocalnet(link) != "1")
        {
            problems.Add($"net.ipv4.conf.{link}.route_localnet is not 1, so 127.0.0.1 clients cannot reach the container");
        }

        if (problems.Count > 0)
        {
            throw new CniException(CniErrorCode.ErrCheckFailed, $"attachment {attachment}: {problems[0]}", string.Join("; ", problems));
        }
    }

    public async Task<int> GcAsync(string network, IReadOnlyCollection<Attachment> valid, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(valid);
        if (!File.Exists(_store.PathName))
        {
            return 0;
        }

        List<StoredAttachment> stale;
        List<NatBinding> removed = [];
        using (await StateLock.AcquireAsync(conf.StateDir, exclusive: true, conf.Timeout, time, cancellationToken))
        {
            DirectStateFile before = _store.Load();
            stale = [.. before.Attachments.Where(a => a.Network == network && !valid.Any(a.Is))];
            if (stale.Count > 0)
            {
                removed = Remove(before, stale);
            }
        }

        FlushUdp(removed);
        return stale.Count;
    }

    public Task StatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var nft = new NftablesBackend(null, TableOptions);
            _ = nft.Generation;
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"nftables is not usable here: {e.Message}");
        }

        try
        {
            Directory.CreateDirectory(conf.StateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            string probe = Path.Combine(conf.StateDir, $".status-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"state directory {conf.StateDir} cannot be written: {e.Message}");
        }

        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<NatBinding>> HeldAsync(Attachment? except, CancellationToken cancellationToken)
    {
        if (!File.Exists(_store.PathName))
        {
            return [];
        }

        using StateLock held = await StateLock.AcquireAsync(conf.StateDir, exclusive: false, conf.Timeout, time, cancellationToken);
        return [.. _store.Load().Attachments.Where(a => except is null || !a.Is(except)).SelectMany(a => a.Bindings.Select(b => b.ToNat()))];
    }

    /// <summary>Takes attachments out (caller holds the lock); returns their bindings, for the conntrack flush.</summary>
    private List<NatBinding> Remove(DirectStateFile before, IReadOnlyCollection<StoredAttachment> gone)
    {
        DirectStateFile after = WithLocalnet(before with { Attachments = [.. before.Attachments.Where(a => !gone.Contains(a))] });
        List<NatBinding> removed = [.. gone.SelectMany(a => a.Bindings.Select(b => b.ToNat()))];
        _store.Save(after);
        try
        {
            Program(before, after);
            SyncLocalnet(after); // with the last attachment gone this also removes the (then empty) state file
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException or IOException or UnauthorizedAccessException)
        {
            Restore(before, after);
            throw new CniException(CniErrorCode.ErrNftables, $"nftables (table {conf.Table}): {e.Message}; nothing was changed");
        }

        return removed;
    }

    /// <summary>
    /// Makes the kernel hold <paramref name="after"/>: element changes in one transaction when the tables hold
    /// exactly <paramref name="before"/>; else (missing, flushed, edited) a rebuild of both tables in one transaction.
    /// No attachment left: the tables go.
    /// </summary>
    private void Program(DirectStateFile before, DirectStateFile after)
    {
        using var nft = new NftablesBackend(null, TableOptions);
        List<NatBinding> want = Expected(after);
        if (want.Count == 0)
        {
            nft.RemoveTables();
            return;
        }

        List<NatBinding> had = Expected(before);
        RulesetCheck check = nft.Check(had);
        if (check.State != RulesetState.InSync)
        {
            if (before.Attachments.Count > 0)
            {
                CniLog.Repairing(logger, conf.Table, check.State.ToString(), string.Join("; ", check.Differences.Take(3)));
            }

            nft.InstallOrReplace(want);
            return;
        }

        HashSet<NatBinding> wantSet = [.. want], hadSet = [.. had];
        nft.Apply([.. want.Where(b => !hadSet.Contains(b))], [.. had.Where(b => !wantSet.Contains(b))]);
    }

    /// <summary>Back to <paramref name="before"/> after a failed change: its state file, and its tables rebuilt from it.</summary>
    private void Restore(DirectStateFile before, DirectStateFile after)
    {
        try
        {
            _store.Save(before with { Localnet = [.. before.Localnet.Union(after.Localnet)] });
            using var nft = new NftablesBackend(null, TableOptions);
            List<NatBinding> had = Expected(before);
            if (had.Count == 0)
            {
                nft.RemoveTables();
            }
            else
            {
                nft.InstallOrReplace(had);
            }
        }
        catch (Exception e) when (e is CniException or NetlinkException or NetlinkProtocolException)
        {
            CniLog.RestoreFailed(logger, e.Message);
        }
    }

    /// <summary>
    /// Adds to the state's list the links that now need route_localnet and are not on yet (so they are listed before
    /// they are set: one the plugin cannot remember setting it could never reset).
    /// </summary>
    private static DirectStateFile WithLocalnet(DirectStateFile state)
    {
        var needed = state.Attachments.Select(a => a.LocalnetLink).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var ours = state.Localnet.ToHashSet(StringComparer.Ordinal);
        foreach (string link in needed.Where(l => !ours.Contains(l) && HostSysctls.ReadLocalnet(l) == "0"))
        {
            ours.Add(link);
        }

        return state with { Localnet = [.. ours.Order(StringComparer.Ordinal)] };
    }

    /// <summary>Sets route_localnet where an attachment needs it, and resets it where the plugin set it and none does any more.</summary>
    private void SyncLocalnet(DirectStateFile state)
    {
        var needed = state.Attachments.Select(a => a.LocalnetLink).OfType<string>().ToHashSet(StringComparer.Ordinal);
        foreach (string link in needed.Where(l => state.Localnet.Contains(l) && HostSysctls.ReadLocalnet(l) == "0"))
        {
            HostSysctls.SetLocalnet(link, on: true);
            CniLog.LocalnetChanged(logger, link, 1);
        }

        List<string> release = [.. state.Localnet.Where(l => !needed.Contains(l))];
        foreach (string link in release)
        {
            try
            {
                if (HostSysctls.ReadLocalnet(link) == "1")
                {
                    HostSysctls.SetLocalnet(link, on: false);
                    CniLog.LocalnetChanged(logger, link, 0);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The link went with its last container (a bridge removed): nothing left to reset.
            }
        }

        if (release.Count > 0)
        {
            _store.Save(state with { Localnet = [.. state.Localnet.Except(release)] });
        }
    }

    private IEnumerable<NatBinding> ServiceElements()
    {
        try
        {
            using var nft = new NftablesBackend(null, new NftablesOptions { TableName = conf.ServiceTable });
            return nft.ReadBindings();
        }
        catch (NetlinkException e) when (e.IsNotFound)
        {
            return [];
        }
    }

    private void FlushUdp(IEnumerable<NatBinding> bindings)
    {
        ushort[] ports = [.. bindings.Where(b => b.Protocol == Core.Specs.Protocol.Udp).Select(b => b.HostPort).Distinct()];
        if (ports.Length == 0)
        {
            return;
        }

        try
        {
            using var ct = new ConntrackNetlink();
            ct.DeleteUdpByOriginalDestinationPort(ports);
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            // No conntrack here yet (nothing to flush) or no ctnetlink: NAT still applies to new flows.
            CniLog.ConntrackFlushFailed(logger, e.Message);
        }
    }

    private static List<NatBinding> Expected(DirectStateFile state) => [.. state.Attachments.SelectMany(a => a.Bindings.Select(b => b.ToNat()))];
}
