using PortPublisher.Core.Specs;

namespace PortPublisher.Core.Allocation;

/// <summary>A dynamic range given by configuration (or tests) instead of read from the kernel.</summary>
public sealed class FixedPortRangeSource(PortRange dynamicRange, IEnumerable<ushort>? reserved = null) : IPortRangeSource
{
    private readonly HashSet<ushort> _reserved = [.. reserved ?? []];

    public PortRange DynamicRange { get; } = dynamicRange.Start == 0
        ? throw new ArgumentOutOfRangeException(nameof(dynamicRange), "the dynamic range cannot include port 0")
        : dynamicRange;

    public bool IsReserved(ushort port) => _reserved.Contains(port);
}
