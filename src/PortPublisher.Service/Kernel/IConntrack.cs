namespace PortPublisher.Service.Kernel;

/// <summary>The kernel's connection tracking, as far as publishing needs it.</summary>
internal interface IConntrack
{
    /// <summary>
    /// Forgets UDP flows to these host ports, so a flow that existed before a binding (and so was never DNAT'ed) does
    /// not keep bypassing it. Best effort: without ctnetlink, NAT still applies to new flows.
    /// </summary>
    void FlushUdp(IReadOnlyCollection<ushort> hostPorts);
}
