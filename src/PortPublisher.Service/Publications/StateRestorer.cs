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
    ILogger<StateRestorer> logger)
{
    /// <summary>Restores; returns the number of bindings restored.</summary>
    /// <exception cref="InvalidDataException">The state file is corrupt: the start stops here, loudly.</exception>
    public async ValueTask<int> RestoreAsync(CancellationToken cancellationToken)
    {
        StateFile state = store.Load();
        int bindings = 0, dropped = 0;
        foreach (StoredPublication sp in state.Publications)
        {
            try
            {
                ActivePublication p = await RestoreOneAsync(sp, cancellationToken);
                registry.Add(p);
                bindings += p.Bindings.Count;
            }
            catch (Exception e) when (e is NetworkNamespaceNotFoundException or PortAllocationException or SocketException or PublishException or FormatException or ArgumentException)
            {
                dropped++;
                ServiceLog.DroppedOnRestore(logger, sp.Name, e.Message);
            }
        }

        if (dropped > 0)
        {
            try
            {
                registry.Persist();
            }
            catch (PublishException e)
            {
                ServiceLog.StateWriteFailed(logger, e.Message);
            }
        }

        registry.RefreshSnapshot();
        return bindings;
    }

    private async ValueTask<ActivePublication> RestoreOneAsync(StoredPublication sp, CancellationToken cancellationToken)
    {
        if (sp.NetnsPath is null)
        {
            return new ActivePublication(sp.Name, sp.Netns, null, sp.Specs, sp.Warnings ?? []);
        }

        ITargetNamespace ns;
        try
        {
            ns = await resolver.ReopenAsync(sp.NetnsPath, (sp.NetnsDevice, sp.NetnsInode), cancellationToken);
        }
        catch (NetworkNamespaceNotFoundException e)
        {
            throw new PublishException(HttpStatusCode.NotFound, e.Message, e);
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
                if (active.Carrier == Carrier.Nat && !nat.Available)
                {
                    throw new PublishException("nftables is unavailable for its NAT bindings");
                }

                p.Bindings.Add(active);
                hosts.Add(host);
            }

            allocator.Restore(hosts);
            allocated = true;
            foreach (ActiveBinding b in p.Bindings.Where(b => b.Host.Protocol != Protocol.Sctp))
            {
                b.Reservation = reservations.BindOne(b.Host);
            }

            publisher.StartProxies(p);
            return p;
        }
        catch
        {
            await publisher.StopProxiesAsync(p.Name, p.Bindings);
            foreach (ActiveBinding b in p.Bindings)
            {
                b.Reservation?.Dispose();
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
}
