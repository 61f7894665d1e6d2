using PortPublisher.Core.Publications;

namespace PortPublisher.Core.Api;

/// <summary>One binding as the API shows it; <see cref="Carrier"/> is <c>nat</c> or <c>proxy</c>.</summary>
public sealed record BindingDto(string HostIp, ushort HostPort, string Protocol, ushort ContainerPort, Carrier? Carrier = null);
