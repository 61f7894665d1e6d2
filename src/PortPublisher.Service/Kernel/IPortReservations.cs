using PortPublisher.Core.Allocation;

namespace PortPublisher.Service.Kernel;

/// <summary>Real sockets that hold host ports before any rule or listener exists.</summary>
internal interface IPortReservations
{
    /// <summary>
    /// A reserver for one publish, or for restoring one saved publication (each port and protocol reserved as one exact
    /// group); <paramref name="describe"/> names a binding in error texts.
    /// </summary>
    IReservationSet Begin(Func<HostBinding, string> describe);
}
