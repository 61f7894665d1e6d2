using System.Net;

namespace PortPublisher.Netlink.Route;

/// <summary>An address assigned to an interface (RTM_NEWADDR); <see cref="Scope"/> 0 is global, 253 link, 254 host.</summary>
public sealed record InterfaceAddress(int InterfaceIndex, string InterfaceName, IPAddress Address, int PrefixLength, byte Scope);
