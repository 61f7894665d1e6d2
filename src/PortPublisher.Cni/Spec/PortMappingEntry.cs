namespace PortPublisher.Cni.Spec;

/// <summary>
/// One entry of <c>runtimeConfig.portMappings</c> (CONVENTIONS.md; portmap's <c>PortMapEntry</c>), as the runtime sent it.
/// An empty <see cref="HostIp"/> means every address of the host.
/// </summary>
internal sealed record PortMappingEntry(int HostPort, int ContainerPort, string Protocol, string HostIp);
