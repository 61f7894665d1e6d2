using System.Net;
using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>The allocator's round-robin cursors at one moment; opaque, for <see cref="PortAllocator.Rewind"/>.</summary>
public sealed class AllocatorCheckpoint
{
    internal AllocatorCheckpoint(Dictionary<(IPAddress Ip, Protocol Protocol, PortRange Range), ushort> cursors) => Cursors = cursors;

    internal Dictionary<(IPAddress Ip, Protocol Protocol, PortRange Range), ushort> Cursors { get; }
}
