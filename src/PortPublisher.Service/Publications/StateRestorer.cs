using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PortPublisher.Core.Allocation;
using PortPublisher.Core.Api;
using PortPublisher.Core.Publications;
using PortPublisher.Core.Specs;
using PortPublisher.Netlink;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Logging;
using PortPublisher.Service.State;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Brings saved publications back at start: each namespace is opened again (one deleted, or recreated under the same
/// name, drops its publication, logged), its ports reserved and its proxies started. The file is rewritten only when
/// something was dropped, so a read-only state directory still lets the service start.
/// </summary>
internal sealed class StateRestorer(
    IStateStore store,
    PublicationRegistry registry,
    PortAllocator allocator,
    ITargetResolver resolver,
    IPortReservations reservations,
    INatBackend nat,
    Publisher publisher,
    ILogger<StateRestorer> logger,
    TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Restores; returns the number of bindings restored.</summary>
    /// <exception cref="InvalidDataException">The state file is corrupt: the start stops here, loudly.</exception>
    public async ValueTask<int> RestoreAsync(CancellationToken cancellationToken)
    {
        StateFile state = store.Load();
        int bindings = 0, dropped = 0;
        var reopened = new Reopened();
        foreach (StoredPublication sp in state.Publications)
        {
            (int restored, bool drop) = await TryRestoreAsync(sp, reopened, cancellationToken);
            bindings += restored;
            dropped += drop ? 1 : 0;
        }

        reopened.Dispose();
        if (dropped > 0)
        {
            try
            {
                registry.PersistAll();
            }
            catch (PublishException e)
            {
                ServiceLog.StateWriteFailed(logger, e.Message);
            }
        }

        registry.RefreshSnapshot();
        return bindings;
    }

    /// <summary>Tries the parked publications again (writer only); each that comes back is active from then on.</summary>
    public async ValueTask RetryParkedAsync(CancellationToken cancellationToken)
    {
        if (registry.Parked.Count == 0)
        {
            return;
        }

        bool changed = false;
        var reopened = new Reopened();
        foreach (string name in registry.Parked.Keys.ToList())
        {
            registry.Unpark(name, out StoredPublication sp);
            (_, bool drop) = await TryRestoreAsync(sp, reopened, cancellationToken);
            changed |= drop || registry.TryGet(name, out _); // dropped, or active again; re-parked changes nothing
        }

        reopened.Dispose();
        if (changed)
        {
            try
            {
                registry.PersistAll();
            }
            catch (PublishException e)
            {
                ServiceLog.StateWriteFailed(logger, e.Message);
            }

            registry.RefreshSnapshot();
        }
    }

    /// <summary>
    /// Restores one saved publication, or parks it (kept in the state file, retried) when what failed may pass, or
    /// drops it when its namespace is gone or is now another one. Returns (bindings restored, dropped).
    /// </summary>
    private async ValueTask<(int Bindings, bool Dropped)> TryRestoreAsync(StoredPublication sp, Reopened reopened, CancellationToken cancellationToken)
    {
        long started = _time.GetTimestamp();
        try
        {
            ActivePublication p = await RestoreOneAsync(sp, reopened, cancellationToken);
            registry.Add(p);
            ServiceLog.RestoredOne(logger, p.Name, p.Bindings.Count, Math.Round(_time.GetElapsedTime(started).TotalMilliseconds, 1));
            return (p.Bindings.Count, false);
        }
        catch (NetworkNamespaceNotFoundException e)
        {
            ServiceLog.DroppedOnRestore(logger, sp.Name, e.Message);
            return (0, true);
        }
        catch (PublishException e) when (e.Status == HttpStatusCode.NotFound)
        {
            ServiceLog.DroppedOnRestore(logger, sp.Name, e.Message);
            return (0, true);
        }
        catch (Exception e) when (e is PortAllocationException or SocketException or PublishException or FormatException or ArgumentException or IOException)
        {
            // A port someone else holds for now, the open-file limit, nftables missing, a slow namespace: none of these
            // is a reason to forget the publication. It stays saved and is tried again.
            registry.Park(sp, e.Message);
            ServiceLog.ParkedOnRestore(logger, sp.Name, e.Message);
            return (0, false);
        }
    }

    /// <summary>
    /// Binds the ports again as at publish time: the bindings of one port and protocol as one exact group, so a
    /// wildcard pair shares one dual-stack socket again.
    /// </summary>
    private static void Reserve(ActivePublication p, IReservationSet reserved)
    {
        var groups = new Dictionary<(ushort Port, Protocol Protocol), List<HostBinding>>();
        var order = new List<List<HostBinding>>();
        foreach (ActiveBinding b in p.Bindings)
        {
            if (!groups.TryGetValue((b.Host.HostPort, b.Host.Protocol), out List<HostBinding>? group))
            {
                groups[(b.Host.HostPort, b.Host.Protocol)] = group = new List<HostBinding>(2);
                order.Add(group);
            }

            group.Add(b.Host);
        }

        foreach (List<HostBinding> group in order)
        {
            reserved.Reserve(group, exactPort: true);
        }

        foreach (ActiveBinding b in p.Bindings)
        {
            b.Hold = reserved.Take(b.Host);
        }
    }

    private async ValueTask<ActivePublication> RestoreOneAsync(StoredPublication sp, Reopened reopened, CancellationToken cancellationToken)
    {
        if (sp.NetnsPath is null)
        {
            return new ActivePublication(sp.Name, sp.Netns, null, sp.Specs, sp.Warnings ?? [], sp.Cni);
        }

        ITargetNamespace ns = await reopened.GetAsync(resolver, sp.NetnsPath, (sp.NetnsDevice, sp.NetnsInode), cancellationToken);
        var p = new ActivePublication(sp.Name, sp.Netns, ns, sp.Specs, sp.Warnings ?? [], sp.Cni);
        var hosts = new List<HostBinding>();
        IReservationSet reserved = reservations.Begin(b => b.ToString());
        bool allocated = false;
        try
        {
            foreach (StoredBinding b in StoredBindingRuns.Expand(sp.Bindings))
            {
                HostBinding host = new BindingDto(b.HostIp, b.HostPort, b.Protocol, b.ContainerPort).ToBinding();
                var active = new ActiveBinding(host, b.Carrier == "nat" ? Carrier.Nat : Carrier.Proxy, IPAddress.Parse(b.TargetIp));
                if (active.Carrier == Carrier.Nat && !nat.Available)
                {
                    throw new PublishException("nftables is unavailable for its NAT bindings");
                }

                p.Bindings.Add(active);
                hosts.Add(host);
            }

            allocator.Restore(hosts);
            allocated = true;
            // A CNI attachment's ports are the runtime's to hold (its conmon holds them; binding them here would fail).
            if (p.Cni is null)
            {
                Reserve(p, reserved);
            }

            publisher.StartProxies(p);
            return p;
        }
        catch
        {
            await publisher.StopProxiesAsync(p.Name, p.Bindings);
            reserved.ReleaseAll();
            foreach (ActiveBinding b in p.Bindings)
            {
                b.Hold?.Dispose();
            }

            if (allocated)
            {
                allocator.Release(hosts);
            }

            p.Sockets?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The namespaces one restore pass opened, by path and identity: 10,000 publications into one namespace open it
    /// once (one trip off the writer, one deadline), and each gets its own hold on the handle. A failure is remembered
    /// too, so the others of that path fail alike (dropped or parked) without waiting again.
    /// </summary>
    private sealed class Reopened : IDisposable
    {
        private readonly Dictionary<(string Path, (ulong, ulong) Identity), (ITargetNamespace? Held, Exception? Error)> _done = [];

        public async ValueTask<ITargetNamespace> GetAsync(ITargetResolver resolver, string path, (ulong, ulong) identity, CancellationToken cancellationToken)
        {
            if (!_done.TryGetValue((path, identity), out (ITargetNamespace? Held, Exception? Error) done))
            {
                try
                {
                    done = (await resolver.ReopenAsync(path, identity, cancellationToken), null);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    done = (null, e);
                }

                _done[(path, identity)] = done;
            }

            if (done.Error is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(done.Error);
            }

            return done.Held!.Share();
        }

        /// <summary>Lets go of the pass's own holds; each restored publication keeps its share.</summary>
        public void Dispose()
        {
            foreach ((ITargetNamespace? held, _) in _done.Values)
            {
                held?.Dispose();
            }

            _done.Clear();
        }
    }
}
