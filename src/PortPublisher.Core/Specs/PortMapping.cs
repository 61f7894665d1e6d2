namespace PortPublisher.Core.Specs;

/// <summary>
/// One parsed <c>-p</c> mapping as Docker's CLI produces it, before the daemon applies defaults.
/// <see cref="HostIp"/> is kept exactly as typed (brackets removed, never canonicalised); an empty
/// string means "the default binding address". A null <see cref="HostPort"/> means no host part was given.
/// </summary>
public sealed record PortMapping(ushort ContainerPort, Protocol Protocol, string HostIp, PortRange? HostPort)
{
    /// <summary>Docker's port key, <c>80/tcp</c>.</summary>
    public string Key => $"{ContainerPort}/{Protocol.ToName()}";

    /// <summary>Docker's HostPort string: empty when no host part was given.</summary>
    public string HostPortText => HostPort?.ToString() ?? string.Empty;
}
