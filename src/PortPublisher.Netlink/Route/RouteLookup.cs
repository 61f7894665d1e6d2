using System.Net;

namespace PortPublisher.Netlink.Route;

/// <summary>
/// The kernel's answer to "how do I reach this address" (RTM_GETROUTE): the output interface, the gateway if any,
/// the preferred source address, and the route type (1 unicast, 2 local, 3 broadcast, …).
/// </summary>
public sealed record RouteLookup(IPAddress Destination, int OutputInterfaceIndex, string? OutputInterface, IPAddress? Gateway, IPAddress? PreferredSource, byte Type)
{
    public const byte RTN_UNICAST = 1;
    public const byte RTN_LOCAL = 2;

    public bool IsLocal => Type == RTN_LOCAL;
}
