using System.Net;
using System.Net.Sockets;

namespace PortPublisher.Core.Sandboxes;

/// <summary>
/// The bridge's subnet, as Docker picks docker0's (libnetwork <c>ipamutils</c>' local pools): the first of
/// 172.17.0.0/16 … 172.31.0.0/16, then 192.168.0.0/20 … 192.168.240.0/20, that overlaps no route of the host (the
/// default route aside), so it never collides with docker0, a VPN or a LAN.
/// </summary>
public static class SubnetPool
{
    /// <summary>The candidates, in Docker's order.</summary>
    public static IEnumerable<IPNetwork> Candidates()
    {
        for (int b = 17; b <= 31; b++)
        {
            yield return new IPNetwork(new IPAddress([172, (byte)b, 0, 0]), 16);
        }

        for (int c = 0; c < 256; c += 16)
        {
            yield return new IPNetwork(new IPAddress([192, 168, (byte)c, 0]), 20);
        }
    }

    /// <summary>The first candidate overlapping none of <paramref name="routed"/>, or null when every one is taken.</summary>
    public static IPNetwork? Choose(IEnumerable<IPNetwork> routed)
    {
        List<IPNetwork> taken = [.. routed.Where(r => r.PrefixLength > 0 && r.BaseAddress.AddressFamily == AddressFamily.InterNetwork)];
        foreach (IPNetwork candidate in Candidates())
        {
            if (!taken.Any(r => Overlaps(r, candidate)))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>Two prefixes overlap when one contains the other's base address.</summary>
    public static bool Overlaps(IPNetwork a, IPNetwork b) => a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress);
}
