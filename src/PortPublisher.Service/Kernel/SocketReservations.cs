using System.Net.Sockets;
using PortPublisher.Core.Allocation;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="IPortReservations"/> with raw sockets (<see cref="SocketReserver"/>).</summary>
internal sealed class SocketReservations : IPortReservations
{
    public IReservationSet Begin(Func<HostBinding, string> describe) => new SocketReserver(describe);

    public SafeSocketHandle BindOne(HostBinding binding) => new SocketReserver(b => b.ToString()).BindOne(binding);
}
