using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>Where dynamic host ports come from: the kernel's ephemeral range and its reserved ports.</summary>
public interface IPortRangeSource
{
    /// <summary>The range dynamic ports are taken from (<c>ip_local_port_range</c>).</summary>
    PortRange DynamicRange { get; }

    /// <summary>Ports never handed out dynamically (<c>ip_local_reserved_ports</c>).</summary>
    bool IsReserved(ushort port);
}
