using System.Net.Sockets;
using PortPublisher.Core.Allocation;
using PortPublisher.Service.Kernel;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.UnitTests;

/// <summary>
/// Reservations without sockets: every "socket" is a handle that owns nothing, so a test can ask whether each one was
/// closed. <see cref="FailOn"/> makes one port's reservation fail as a port held by another process would. A wildcard
/// pair shares one handle, as <see cref="SocketReserver"/> gives it one dual-stack socket (unless <see cref="DualStack"/>
/// is off, as on a host with net.ipv6.bindv6only=1).
/// </summary>
internal sealed class FakeReservations : IPortReservations
{
    public List<SafeSocketHandle> Handles { get; } = [];

    public ushort? FailOn { get; set; }

    public bool DualStack { get; set; } = true;

    public IReservationSet Begin(Func<HostBinding, string> describe) => new Set(this, describe);

    private SafeSocketHandle NewHandle()
    {
        var h = new SafeSocketHandle(new IntPtr(1_000_000 + Handles.Count), ownsHandle: false);
        Handles.Add(h);
        return h;
    }

    private sealed class Set(FakeReservations owner, Func<HostBinding, string> describe) : IReservationSet
    {
        private readonly Dictionary<HostBinding, PortHold> _held = [];

        public void Reserve(IReadOnlyList<HostBinding> group, bool exactPort)
        {
            foreach (HostBinding b in group)
            {
                if (b.HostPort == owner.FailOn)
                {
                    throw new PortAllocationException($"failed to bind host port for {describe(b)}: address already in use");
                }
            }

            if (owner.DualStack && SocketReserver.IsWildcardPair(group))
            {
                var pair = new PortHold(owner.NewHandle(), dualStack: true);
                _held[group[0]] = pair;
                _held[group[1]] = pair;
                return;
            }

            foreach (HostBinding b in group.Where(b => b.Protocol != Core.Specs.Protocol.Sctp))
            {
                _held[b] = new PortHold(owner.NewHandle(), dualStack: false);
            }
        }

        public void Unreserve(IReadOnlyList<HostBinding> group)
        {
            foreach (HostBinding b in group)
            {
                Take(b)?.Dispose();
            }
        }

        public PortHold? Take(HostBinding binding) => _held.Remove(binding, out PortHold? h) ? h : null;

        public void ReleaseAll()
        {
            foreach (PortHold h in _held.Values)
            {
                h.Dispose();
            }

            _held.Clear();
        }
    }
}
