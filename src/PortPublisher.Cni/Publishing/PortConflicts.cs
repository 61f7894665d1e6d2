using System.Net;
using PortPublisher.Cni.Spec;
using PortPublisher.Netlink.Nft;

namespace PortPublisher.Cni.Publishing;

/// <summary>
/// Whether a host port is taken, as the service's allocator decides it: the same protocol, port and family, on the
/// same address or where either side is the family's wildcard (a wildcard and a specific address would split one
/// port's traffic between two containers).
/// </summary>
internal static class PortConflicts
{
    /// <exception cref="CniException">100, in Docker's words, for the first binding of <paramref name="wanted"/> that <paramref name="held"/> overlaps.</exception>
    public static void ThrowIfTaken(IEnumerable<NatBinding> wanted, IEnumerable<NatBinding> held, string holder)
    {
        ArgumentNullException.ThrowIfNull(wanted);
        ArgumentNullException.ThrowIfNull(held);
        List<NatBinding> others = [.. held];
        foreach (NatBinding w in wanted)
        {
            if (others.FirstOrDefault(h => Overlap(w, h)) is NatBinding taken)
            {
                string ip = w.HostIp is null ? (w.IsIPv6 ? "::" : "0.0.0.0") : w.HostIp.ToString();
                throw new CniException(CniErrorCode.ErrPortAllocated, $"Bind for {ip}:{w.HostPort} failed: port is already allocated", $"{BindingPlan.Host(taken)} is held by {holder}");
            }
        }
    }

    public static bool Overlap(NatBinding a, NatBinding b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        return a.Protocol == b.Protocol && a.HostPort == b.HostPort && a.IsIPv6 == b.IsIPv6
            && (a.HostIp is null || b.HostIp is null || a.HostIp.Equals(b.HostIp) || IsAny(a.HostIp) || IsAny(b.HostIp));
    }

    private static bool IsAny(IPAddress ip) => ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any);
}
