namespace PortPublisher.Netlink.Nft;

/// <summary>
/// A binding's element counter. NAT chains see only the first packet of a connection, so
/// <see cref="Packets"/> counts new connections (UDP flows) and <see cref="Bytes"/> the sizes of those first packets.
/// </summary>
public sealed record NatBindingCounter(NatBinding Binding, ulong Packets, ulong Bytes);
