using System.Buffers.Binary;
using System.Net;

namespace PortPublisher.Core.Sandboxes;

/// <summary>
/// First-available IPv4 allocation in a subnet, as libnetwork's local-scope IPAM (<c>addrset.AddAny(serial=false)</c>):
/// the lowest free address, so a freed one is reused. The network address, the gateway (.1) and the broadcast
/// address are never handed out.
/// </summary>
public static class Ipam
{
    /// <summary>The gateway: the first address after the network's.</summary>
    public static IPAddress Gateway(IPNetwork subnet) => FromUInt32(ToUInt32(subnet.BaseAddress) + 1);

    /// <summary>The lowest address of <paramref name="subnet"/> not in <paramref name="used"/>, or null when it is full.</summary>
    public static IPAddress? FirstFree(IPNetwork subnet, IEnumerable<IPAddress> used)
    {
        HashSet<uint> taken = [.. used.Select(ToUInt32)];
        uint first = ToUInt32(subnet.BaseAddress) + 2;
        uint last = ToUInt32(subnet.BaseAddress) + (uint)((1L << (32 - subnet.PrefixLength)) - 2);
        for (uint a = first; a <= last; a++)
        {
            if (!taken.Contains(a))
            {
                return FromUInt32(a);
            }
        }

        return null;
    }

    /// <summary>Null when <paramref name="address"/> may be asked for with <c>--ip</c>, else why not.</summary>
    public static string? CheckRequested(IPNetwork subnet, IPAddress address, IEnumerable<IPAddress> used)
    {
        ArgumentNullException.ThrowIfNull(address);
        uint a = ToUInt32(address), network = ToUInt32(subnet.BaseAddress);
        uint broadcast = network + (uint)((1L << (32 - subnet.PrefixLength)) - 1);
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork || !subnet.Contains(address))
        {
            return $"--ip {address} is not in the bridge's subnet {subnet}";
        }

        if (a == network || a == broadcast || a == network + 1)
        {
            return $"--ip {address} is the subnet's {(a == network ? "network" : a == broadcast ? "broadcast" : "gateway")} address";
        }

        return used.Any(u => u.Equals(address)) ? $"--ip {address} is already in use by another sandbox" : null;
    }

    private static uint ToUInt32(IPAddress a) => BinaryPrimitives.ReadUInt32BigEndian(a.GetAddressBytes());

    private static IPAddress FromUInt32(uint v)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, v);
        return new IPAddress(b);
    }
}
