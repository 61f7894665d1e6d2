using System.Diagnostics;
using Microsoft.Extensions.Logging;
using PortPublisher.Core.Publications;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Logging;
using PortPublisher.Service.Metrics;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Keeps the kernel's tables equal to the publications: at start, kept as they are if they match (no transaction, so
/// NAT'ed connections do not notice a restart) or replaced atomically; afterwards, rebuilt when someone else changes
/// nf_tables (<c>nft flush ruleset</c>, a firewall reload). A burst of events becomes one check on the writer.
/// </summary>
internal sealed class NatReconciler(PublicationRegistry registry, INatBackend nat, CommandQueue queue, ILogger<NatReconciler> logger) : IDisposable
{
    private IDisposable? _watch;
    private int _queued;

    /// <summary>Compares and, if needed, replaces (writer only). Returns what it found, for the start log.</summary>
    public string Reconcile(bool startup)
    {
        if (!nat.Available)
        {
            return "unavailable";
        }

        List<NatBinding> expected = [.. registry.All.SelectMany(p => p.Bindings).Where(b => b.Carrier == Carrier.Nat).Select(b => b.ToNat())];
        RulesetCheck check = nat.Check(expected);
        if (check.State == RulesetState.InSync)
        {
            return "in sync, kept";
        }

        long t0 = Stopwatch.GetTimestamp();
        nat.InstallOrReplace(expected);
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (!startup)
        {
            ServiceLog.Repaired(logger, check.State.ToString(), string.Join("; ", check.Differences.Take(5)), ms);
            PortPublisherMetrics.Repairs.Inc();
        }

        return $"{check.State}, replaced";
    }

    /// <summary>Starts listening for other writers' nf_tables changes.</summary>
    public void Watch()
    {
        if (nat.Available)
        {
            _watch = nat.WatchForeignChanges(Request);
        }
    }

    /// <summary>Queues one check (any thread); requests while one is queued are folded into it.</summary>
    public void Request()
    {
        if (Interlocked.Exchange(ref _queued, 1) != 0)
        {
            return;
        }

        if (!queue.TryPost("repair nftables", _ =>
            {
                Volatile.Write(ref _queued, 0);
                try
                {
                    Reconcile(startup: false);
                }
                catch (NetlinkException e)
                {
                    PortPublisherMetrics.Errors.WithLabels("repair").Inc();
                    ServiceLog.RepairFailed(logger, e.Message);
                }

                return ValueTask.CompletedTask;
            }))
        {
            Volatile.Write(ref _queued, 0);
        }
    }

    public void Dispose() => _watch?.Dispose();
}
