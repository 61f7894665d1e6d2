using PortPublisher.Core.Allocation;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IPortReservations"/> with raw sockets (<see cref="SocketReserver"/>).</summary>
internal sealed class SocketReservations : IPortReservations
{
    private const string BindV6OnlyPath = "/proc/sys/net/ipv6/bindv6only";

    public IReservationSet Begin(Func<HostBinding, string> describe) => new SocketReserver(describe, DualStackAllowed());

    /// <summary>
    /// Whether a wildcard pair may share one dual-stack socket, asked of the service's namespace at each publish (a
    /// sysctl read, microseconds). Not where <c>net.ipv6.bindv6only=1</c>: that host has chosen IPv6 sockets that serve
    /// IPv6 alone. We set IPV6_V6ONLY on our sockets ourselves and could override it, but keep to the choice and take
    /// two sockets per pair there. Not without IPv6 sockets at all (<c>ipv6.disable=1</c>: no such file), where there
    /// are no [::] bindings either.
    /// </summary>
    internal static bool DualStackAllowed()
    {
        try
        {
            return File.ReadAllText(BindV6OnlyPath).Trim() == "0";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
