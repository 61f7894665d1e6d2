using System.Net.Sockets;
using PortPublisher.Core.Allocation;
using PortPublisher.Service.Kernel;
using Xunit;

namespace PortPublisher.Service.UnitTests;

/// <summary>
/// Reservations without sockets: every "socket" is a handle that owns nothing, so a test can ask whether each one was
/// closed. <see cref="FailOn"/> makes one port's reservation fail as a port held by another process would.
/// </summary>
internal sealed class FakeReservations : IPortReservations
{
    public List<SafeSocketHandle> Handles { get; } = [];

    public ushort? FailOn { get; set; }

    public IReservationSet Begin(Func<HostBinding, string> describe) => new Set(this, describe);

    /// <summary>Makes <see cref="BindOne"/> fail as a port another process holds would.</summary>
    public bool BindOneFails { get; set; }

    public SafeSocketHandle BindOne(HostBinding binding) => BindOneFails
        ? throw new PortAllocationException($"failed to bind host port for {binding}: address already in use")
        : NewHandle();

    private SafeSocketHandle NewHandle()
    {
        var h = new SafeSocketHandle(new IntPtr(1_000_000 + Handles.Count), ownsHandle: false);
        Handles.Add(h);
        return h;
    }

    private sealed class Set(FakeReservations owner, Func<HostBinding, string> describe) : IReservationSet
    {
        private readonly Dictionary<HostBinding, SafeSocketHandle> _held = [];

        public void Reserve(IReadOnlyList<HostBinding> group, bool exactPort)
        {
            foreach (HostBinding b in group)
            {
                if (b.HostPort == owner.FailOn)
                {
                    throw new PortAllocationException($"failed to bind host port for {describe(b)}: address already in use");
                }
            }

            foreach (HostBinding b in group.Where(b => b.Protocol != Core.Specs.Protocol.Sctp))
            {
                _held[b] = owner.NewHandle();
            }
        }

        public void Unreserve(IReadOnlyList<HostBinding> group)
        {
            foreach (HostBinding b in group)
            {
                Take(b)?.Dispose();
            }
        }

        public SafeSocketHandle? Take(HostBinding binding) => _held.Remove(binding, out SafeSocketHandle? h) ? h : null;

        public void ReleaseAll()
        {
            foreach (SafeSocketHandle h in _held.Values)
            {
                h.Dispose();
            }

            _held.Clear();
        }
    }
}
