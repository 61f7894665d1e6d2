namespace PortPublisher.Netlink.Nft;

/// <summary>
/// One nf_tables change notification: <see cref="Kind"/> is the message (<c>NEWTABLE</c>, <c>DELTABLE</c>,
/// <c>NEWSETELEM</c>, <c>NEWGEN</c>, …), <see cref="Table"/> the table it concerns (empty for NEWGEN and flushes of
/// everything), and <see cref="PortId"/> the netlink port of the socket that made the change (compare with
/// <see cref="NftablesBackend.PortId"/> to ignore our own).
/// </summary>
public sealed record NftEvent(string Kind, string Family, string Table, uint PortId, uint Generation);
