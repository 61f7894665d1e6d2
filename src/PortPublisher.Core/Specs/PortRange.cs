using System.Globalization;

namespace PortPublisher.Core.Specs;

/// <summary>An inclusive range of ports; <c>Start == End</c> is a single port and (0, 0) means "dynamic".</summary>
public readonly record struct PortRange(ushort Start, ushort End)
{
    public static PortRange Of(ushort port) => new(port, port);

    public bool IsDynamic => Start == 0 && End == 0;

    public bool IsSingle => Start == End;

    public int Count => End - Start + 1;

    /// <summary>Docker's HostPort string: <c>8080</c> or <c>8000-8010</c>.</summary>
    public override string ToString() => IsSingle
        ? Start.ToString(CultureInfo.InvariantCulture)
        : string.Create(CultureInfo.InvariantCulture, $"{Start}-{End}");
}
