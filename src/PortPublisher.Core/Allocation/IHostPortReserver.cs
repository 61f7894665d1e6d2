namespace PortPublisher.Core.Allocation;

/// <summary>
/// Holds host ports in the kernel while an allocation is made: the service binds a real socket for every
/// binding of a group (as Docker ≥ 28 does), so a port held by another process fails the publish before
/// any rule exists.
/// </summary>
public interface IHostPortReserver
{
    /// <summary>Reserves every binding of the group, or none of them.</summary>
    /// <param name="group">Bindings that share one host port (an address family pair, or one address).</param>
    /// <param name="exactPort">The user asked for this port, so no other port will be tried.</param>
    /// <exception cref="PortAllocationException">A binding could not be reserved; nothing of the group is held.</exception>
    void Reserve(IReadOnlyList<HostBinding> group, bool exactPort);

    /// <summary>Releases a group reserved by <see cref="Reserve"/>.</summary>
    void Unreserve(IReadOnlyList<HostBinding> group);
}
