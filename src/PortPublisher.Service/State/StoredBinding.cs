using System.Text.Json.Serialization;

namespace PortPublisher.Service.State;

/// <summary>
/// A binding as persisted: host side, container port, carrier and where the carrier sends it. With a
/// <see cref="Count"/> above 1 it begins a run (see <see cref="StoredBindingRuns"/>): a 10,000-port range is saved as
/// one entry per family, not 20,000.
/// </summary>
public sealed record StoredBinding(
    string HostIp,
    ushort HostPort,
    string Protocol,
    ushort ContainerPort,
    string Carrier,
    string TargetIp,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Count = null);
