using PortPublisher.Core.Allocation;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IPortReservations"/> with raw sockets (<see cref="SocketReserver"/>).</summary>
internal sealed class SocketReservations : IPortReservations
{
    private const string BindV6OnlyPath = "/proc/sys/net/ipv6/bindv6only";

    private static long s_readAt;
    private static bool s_allowed;

    public IReservationSet Begin(Func<HostBinding, string> describe) => new SocketReserver(describe, DualStackAllowed());

    /// <summary>
    /// Whether a wildcard pair may share one dual-stack socket, asked of the service's namespace (a sysctl read, at
    /// most once a second). Not where <c>net.ipv6.bindv6only=1</c>: that host has chosen IPv6 sockets that serve
    /// IPv6 alone. We set IPV6_V6ONLY on our sockets ourselves and could override it, but keep to the choice and take
    /// two sockets per pair there. Not without IPv6 sockets at all (<c>ipv6.disable=1</c>: no such file), where there
    /// are no [::] bindings either.
    /// </summary>
    internal static bool DualStackAllowed()
    {
        // Read at most once a second: restoring 10,000 publications begins 10,000 reservations.
        long now = Environment.TickCount64;
        if (now - Volatile.Read(ref s_readAt) < 1000 && s_readAt != 0)
        {
            return s_allowed;
        }

        bool allowed;
        try
        {
            Span<byte> value = stackalloc byte[8];
            using Microsoft.Win32.SafeHandles.SafeFileHandle f = File.OpenHandle(BindV6OnlyPath);
            int n = RandomAccess.Read(f, value, 0);
            allowed = n > 0 && value[0] == (byte)'0';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            allowed = false;
        }

        s_allowed = allowed;
        Volatile.Write(ref s_readAt, now);
        return allowed;
    }
}
