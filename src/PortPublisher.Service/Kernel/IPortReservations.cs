using System.Net.Sockets;
using PortPublisher.Core.Allocation;

namespace PortPublisher.Service.Kernel;

/// <summary>Real sockets that hold host ports before any rule or listener exists.</summary>
internal interface IPortReservations
{
    /// <summary>A reserver for one publish; <paramref name="describe"/> names a binding in error texts.</summary>
    IReservationSet Begin(Func<HostBinding, string> describe);

    /// <summary>Binds one port again, as at publish time (restoring saved publications).</summary>
    /// <exception cref="PortAllocationException">The port is taken.</exception>
    SafeSocketHandle BindOne(HostBinding binding);
}
