namespace PortPublisher.Proxy.Internal;

/// <summary>
/// One destination's memory that its path refused a UDP GSO send (a kernel without UDP_SEGMENT, a route without
/// checksum offload, a segment above the path MTU): from then on its datagrams leave one by one. Per client, so one
/// client behind a small MTU does not cost the others their GSO. Loop thread only.
/// </summary>
internal sealed class GsoPath
{
    public bool Refused { get; set; }
}
