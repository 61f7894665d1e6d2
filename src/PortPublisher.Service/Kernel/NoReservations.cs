using PortPublisher.Core.Allocation;

namespace PortPublisher.Service.Kernel;

/// <summary>
/// The reservation set of a CNI attachment's publish: its runtime holds the host ports (Podman binds them and hands
/// them to conmon), so a socket of ours would only fail with EADDRINUSE. The allocator still refuses ports that other
/// publications hold.
/// </summary>
internal sealed class NoReservations : IReservationSet
{
    public void Reserve(IReadOnlyList<HostBinding> group, bool exactPort)
    {
    }

    public void Unreserve(IReadOnlyList<HostBinding> group)
    {
    }

    public PortHold? Take(HostBinding binding) => null;

    public void ReleaseAll()
    {
    }
}
