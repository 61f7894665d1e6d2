namespace PortPublisher.Service.State;

/// <summary>A binding as persisted: host side, container port, carrier and where the carrier sends it.</summary>
public sealed record StoredBinding(string HostIp, ushort HostPort, string Protocol, ushort ContainerPort, string Carrier, string TargetIp);
