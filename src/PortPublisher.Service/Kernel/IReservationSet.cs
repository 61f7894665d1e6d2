using PortPublisher.Core.Allocation;

namespace PortPublisher.Service.Kernel;

/// <summary>The sockets one publish reserved, until each is taken by its binding or all are released.</summary>
internal interface IReservationSet : IHostPortReserver
{
    /// <summary>
    /// Takes a binding's hold out of the set (the caller owns it from then on); null for SCTP. Both bindings of a wildcard
    /// pair get the same <see cref="PortHold"/> (one dual-stack socket).
    /// </summary>
    PortHold? Take(HostBinding binding);

    /// <summary>Closes every socket still in the set.</summary>
    void ReleaseAll();
}
