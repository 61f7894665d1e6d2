namespace PortPublisher.Core.Api;

/// <summary>
/// Marks a publication as one CNI attachment's port mappings (the <c>portpublisher-cni</c> plugin sends it): the
/// container runtime holds the host ports itself (Podman's conmon does), so the service holds no socket and runs no
/// listener for it, and carries every binding by NAT.
/// </summary>
/// <param name="ContainerId">CNI_CONTAINERID.</param>
/// <param name="IfName">CNI_IFNAME: with the container ID, the attachment's key.</param>
/// <param name="Network">The network configuration's <c>name</c>; GC removes only its own network's attachments.</param>
/// <param name="Snat">
/// portmap's <c>snat</c>: the host's own 127.0.0.1 clients of an address-less IPv4 binding are DNAT'ed too, which needs
/// route_localnet on the link to the target (set while the service runs, under its loopback guard).
/// </param>
public sealed record CniAttachment(string ContainerId, string IfName, string? Network = null, bool Snat = true);
