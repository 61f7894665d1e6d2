using System.Net;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Where a publication's traffic goes inside its namespace, per family, and whether the host namespace can route to
/// that address (the condition for NAT; otherwise only the proxy, dialing from inside, reaches it).
/// </summary>
internal sealed record Target(IPAddress? V4, IPAddress? V6, bool V4Routable, bool V6Routable, string? V4Interface)
{
    public static readonly Target None = new(null, null, false, false, null);
}
