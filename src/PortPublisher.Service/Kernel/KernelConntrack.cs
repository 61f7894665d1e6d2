using PortPublisher.Netlink;
using PortPublisher.Netlink.Conntrack;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IConntrack"/> over ctnetlink in the service's namespace.</summary>
internal sealed class KernelConntrack : IConntrack
{
    public void FlushUdp(IReadOnlyCollection<ushort> hostPorts)
    {
        if (hostPorts.Count == 0)
        {
            return;
        }

        try
        {
            using var ct = new ConntrackNetlink();
            ct.DeleteUdpByOriginalDestinationPort([.. hostPorts]);
        }
        catch (Exception e) when (e is NetlinkException or NetlinkProtocolException)
        {
            // No conntrack in this namespace yet (nothing to flush) or no ctnetlink: NAT still applies to new flows.
        }
    }
}
