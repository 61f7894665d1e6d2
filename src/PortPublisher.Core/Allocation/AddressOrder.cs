using System.Net;
using System.Net.Sockets;

namespace PortPublisher.Core.Allocation;

/// <summary>Orders addresses as Docker does: none first, then IPv4 before IPv6, then bytewise.</summary>
internal static class AddressOrder
{
    public static int Compare(IPAddress? a, IPAddress? b)
    {
        if (a is null || b is null)
        {
            return (a is null ? 0 : 1) - (b is null ? 0 : 1);
        }

        if (a.AddressFamily != b.AddressFamily)
        {
            return a.AddressFamily == AddressFamily.InterNetwork ? -1 : 1;
        }

        Span<byte> x = stackalloc byte[16];
        Span<byte> y = stackalloc byte[16];
        a.TryWriteBytes(x, out int nx);
        b.TryWriteBytes(y, out int ny);
        return x[..nx].SequenceCompareTo(y[..ny]);
    }
}
