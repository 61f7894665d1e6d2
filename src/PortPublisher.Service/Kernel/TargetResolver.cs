using System.Net;
using System.Net.Sockets;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Route;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="ITargetResolver"/> with nsfs handles and rtnetlink, each call on a pool thread under <see cref="PipelineDeadlines.Kernel"/>.</summary>
internal sealed class TargetResolver(PipelineDeadlines deadlines, NamespaceHandles handles) : ITargetResolver
{
    public ValueTask<ResolvedTarget> ResolveAsync(string netns, IReadOnlyList<IPAddress> requested, CancellationToken cancellationToken) =>
        OffWriter.RunAsync(() => Resolve(netns, requested), deadlines.Kernel, $"opening network namespace '{netns}'", cancellationToken);

    public ValueTask<ITargetNamespace> ReopenAsync(string path, (ulong Device, ulong Inode) identity, CancellationToken cancellationToken) =>
        OffWriter.RunAsync<ITargetNamespace>(
            () =>
            {
                NetworkNamespace ns = NetworkNamespace.Open(path);
                if (ns.Identity != identity)
                {
                    ns.Dispose();
                    throw new NetworkNamespaceNotFoundException($"{path} is now a different namespace than the one published");
                }

                return handles.Share(ns, path);
            },
            deadlines.Kernel,
            $"opening network namespace {path}",
            cancellationToken);

    private ResolvedTarget Resolve(string netns, IReadOnlyList<IPAddress> requested)
    {
        NetworkNamespace ns;
        try
        {
            ns = NetworkNamespace.Open(netns);
        }
        catch (NetworkNamespaceNotFoundException e)
        {
            throw new PublishException(HttpStatusCode.NotFound, e.Message);
        }

        try
        {
            // The proxy would dial its own listener (one client became thousands of connections), and DNAT to the
            // host's own addresses is not publishing: Docker's equivalent is --network host, which discards ports.
            using (NetworkNamespace own = NetworkNamespace.Open("/proc/self/ns/net"))
            {
                if (ns.Identity == own.Identity)
                {
                    throw new PublishException(HttpStatusCode.BadRequest, $"network namespace '{netns}' is the service's own; publish into another namespace, or use --netns host (ports are then discarded, as with docker --network host)");
                }
            }

            Target target = Addresses(ns, netns, requested);
            return new ResolvedTarget(handles.Share(ns, ns.Path), target);
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The address to send traffic to, per family: the ones asked for (a family not asked for has none), else the
    /// namespace's first global address, else its loopback; and whether the host can route to it (which NAT needs).
    /// </summary>
    private static Target Addresses(NetworkNamespace ns, string netns, IReadOnlyList<IPAddress> requested)
    {
        IReadOnlyList<InterfaceAddress> addresses;
        using (var inside = new RouteNetlink(ns))
        {
            addresses = inside.GetAddresses();
        }

        IPAddress? v4, v6;
        if (requested.Count > 0)
        {
            // An address the namespace does not have would publish with success and carry nothing.
            foreach (IPAddress r in requested)
            {
                if (!addresses.Any(a => a.Address.Equals(r)))
                {
                    string has = addresses.Count == 0 ? "no addresses" : string.Join(", ", addresses.Select(a => a.Address));
                    throw new PublishException(HttpStatusCode.BadRequest, $"target address {r} (--ip) is not an address of network namespace '{netns}' (it has {has})");
                }
            }

            v4 = requested.FirstOrDefault(r => r.AddressFamily == AddressFamily.InterNetwork);
            v6 = requested.FirstOrDefault(r => r.AddressFamily == AddressFamily.InterNetworkV6);
        }
        else
        {
            v4 = addresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetwork && a.Scope == 0)?.Address
                 ?? (addresses.Any(a => a.Address.Equals(IPAddress.Loopback)) ? IPAddress.Loopback : null);
            v6 = addresses.FirstOrDefault(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6 && a.Scope == 0)?.Address;
        }

        using var host = new RouteNetlink();
        RouteLookup? r4 = v4 is null || IPAddress.IsLoopback(v4) ? null : host.GetRoute(v4);
        RouteLookup? r6 = v6 is null || IPAddress.IsLoopback(v6) ? null : host.GetRoute(v6);
        return new Target(v4, v6, r4 is { IsLocal: false }, r6 is { IsLocal: false }, r4?.OutputInterface);
    }
}
