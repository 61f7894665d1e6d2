using Microsoft.Extensions.Options;
using PortPublisher.Netlink;
using PortPublisher.Netlink.Nft;
using PortPublisher.Service.Options;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="INatBackend"/> over our nf_tables codec, in the service's own network namespace.</summary>
internal sealed class NftablesNat(IOptions<PortPublisherOptions> options) : INatBackend
{
    private readonly string _table = options.Value.Table;
    private readonly bool _protect = options.Value.ProtectTables;
    private NftablesBackend? _writer;

    public bool Available => _writer is not null;

    public string Description => !Available ? "userland proxy only (nftables unavailable)"
        : $"nftables (tables ip/ip6 {_table}, {Protection}) + userland proxy";

    public bool Owns => _writer?.Owns ?? false;

    public string? OwnershipUnavailable => _writer?.OwnershipUnavailable;

    private string Protection => Owns ? "owned by the service" : !_protect ? "not protected" : OwnershipUnavailable ?? "not yet owned";

    public NftablesBackend? CounterReader { get; private set; }

    public string? Open()
    {
        try
        {
            _writer = new NftablesBackend(null, new NftablesOptions { TableName = _table, Owned = _protect, LoopbackByProxy = true });
            CounterReader = new NftablesBackend(null, new NftablesOptions { TableName = _table });
            return null;
        }
        catch (NetlinkException e)
        {
            _writer?.Dispose();
            _writer = null;
            return e.Message;
        }
    }

    public void Apply(IReadOnlyCollection<NatBinding> add, IReadOnlyCollection<NatBinding> remove) => Writer.Apply(add, remove);

    public RulesetCheck Check(IReadOnlyCollection<NatBinding> expected) => Writer.Check(expected);

    public void InstallOrReplace(IReadOnlyCollection<NatBinding> expected) => Writer.InstallOrReplace(expected);

    public bool Adopt() => Writer.Adopt();

    public IDisposable WatchForeignChanges(Action onForeignChange)
    {
        NftablesBackend writer = Writer;
        return new NftEventMonitor(e =>
        {
            // Our own transactions echo back as events too; only someone else's change can need a repair.
            if (e.PortId == writer.PortId || e.PortId == CounterReader?.PortId)
            {
                return;
            }

            if (e.Table == _table || e.Kind is "DELTABLE" or "OVERRUN")
            {
                onForeignChange();
            }
        });
    }

    public void Dispose()
    {
        _writer?.Dispose();
        CounterReader?.Dispose();
    }

    private NftablesBackend Writer => _writer ?? throw new InvalidOperationException("nftables is unavailable");
}
