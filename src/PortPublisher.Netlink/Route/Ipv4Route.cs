using System.Net;

namespace PortPublisher.Netlink.Route;

/// <summary>An IPv4 route of the main table: its destination prefix (0.0.0.0/0 for the default route).</summary>
public sealed record Ipv4Route(IPAddress Destination, int PrefixLength);
