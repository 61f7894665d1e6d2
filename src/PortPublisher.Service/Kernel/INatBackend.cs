using PortPublisher.Netlink.Nft;

namespace PortPublisher.Service.Kernel;

/// <summary>The kernel's NAT as the publication pipeline uses it: our nftables tables, one transaction per change.</summary>
internal interface INatBackend : IDisposable
{
    /// <summary>False when nftables could not be opened: every binding is then proxied.</summary>
    bool Available { get; }

    /// <summary>What the service reports as its backend in <c>status</c>.</summary>
    string Description { get; }

    /// <summary>Opens the netlink sockets; returns why not, or null. Called once, before anything else.</summary>
    string? Open();

    /// <summary>Adds and removes elements in one atomic transaction.</summary>
    void Apply(IReadOnlyCollection<NatBinding> add, IReadOnlyCollection<NatBinding> remove);

    RulesetCheck Check(IReadOnlyCollection<NatBinding> expected);

    /// <summary>Replaces our tables with exactly <paramref name="expected"/>, atomically.</summary>
    void InstallOrReplace(IReadOnlyCollection<NatBinding> expected);

    /// <summary>True while the service's socket owns the tables, so nobody else can flush them.</summary>
    bool Owns { get; }

    /// <summary>Why the tables cannot be owned here (an older kernel), or null.</summary>
    string? OwnershipUnavailable { get; }

    /// <summary>
    /// Takes ownership of tables that already match (left by a previous run) without touching their contents; false
    /// when they must be replaced to be owned. True at once when the tables are not to be owned.
    /// </summary>
    bool Adopt();

    /// <summary>Calls <paramref name="onForeignChange"/> (on another thread) when someone else changes nf_tables.</summary>
    IDisposable WatchForeignChanges(Action onForeignChange);

    /// <summary>A second connection for scrapes, so reading counters never waits for or disturbs the writer.</summary>
    NftablesBackend? CounterReader { get; }
}
