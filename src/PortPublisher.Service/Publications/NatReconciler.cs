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
internal sealed class NatReconciler : IDisposable
{
    private readonly PublicationRegistry _registry;
    private readonly INatBackend _nat;
    private readonly ILogger<NatReconciler> _logger;
    private readonly CoalescedCommand _repair;
    private IDisposable? _watch;

    public NatReconciler(PublicationRegistry registry, INatBackend nat, CommandQueue queue, ILogger<NatReconciler> logger)
    {
        _registry = registry;
        _nat = nat;
        _logger = logger;
        _repair = new CoalescedCommand(queue, "repair nftables", _ =>
        {
            try
            {
                Reconcile(startup: false);
            }
            catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
            {
                PortPublisherMetrics.Errors.WithLabels("repair").Inc();
                ServiceLog.RepairFailed(logger, e.Message);
            }

            return ValueTask.CompletedTask;
        });
    }

    /// <summary>Compares and, if needed, replaces (writer only). Returns what it found, for the start log.</summary>
    public string Reconcile(bool startup)
    {
        if (!_nat.Available)
        {
            return "unavailable";
        }

        List<NatBinding> expected = [.. _registry.All.SelectMany(p => p.NatElements())];
        RulesetCheck check = _nat.Check(expected);
        if (check.State == RulesetState.InSync && _nat.Adopt())
        {
            return _nat.Owns ? "in sync, kept (owned)" : "in sync, kept";
        }

        long t0 = Stopwatch.GetTimestamp();
        _nat.InstallOrReplace(expected);
        double ms = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        if (!startup)
        {
            ServiceLog.Repaired(_logger, check.State.ToString(), string.Join("; ", check.Differences.Take(5)), Math.Round(ms, 1), expected.Count);
            PortPublisherMetrics.Repairs.Inc();
        }

        if (_nat.OwnershipUnavailable is string why && startup)
        {
            ServiceLog.TablesNotProtected(_logger, why);
        }

        return $"{(check.State == RulesetState.InSync ? "in sync but not ownable" : check.State.ToString())}, replaced{(_nat.Owns ? " (owned)" : string.Empty)}";
    }

    /// <summary>Starts listening for other writers' nf_tables changes.</summary>
    public void Watch()
    {
        if (_nat.Available)
        {
            _watch = _nat.WatchForeignChanges(Request);
        }
    }

    /// <summary>Queues one check (any thread); requests while one is queued are folded into it.</summary>
    public void Request() => _repair.Request();

    public void Dispose() => _watch?.Dispose();
}
