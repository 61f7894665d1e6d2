namespace PortPublisher.Proxy.Internal;

/// <summary>
/// One destination's memory of the UDP GSO sends its path refused, so that they are not asked for again: a segment
/// above the path MTU (EMSGSIZE, or EINVAL from the kernel's own MTU check) refuses that size and larger ones only,
/// and a later run of smaller datagrams still goes as one; a kernel or route that cannot do GSO at all (EIO without
/// checksum offload, ENOPROTOOPT, EOPNOTSUPP) refuses every size. Per flow and direction, so one client behind a
/// small MTU does not cost the others their GSO. Loop thread only.
/// </summary>
internal sealed class GsoPath
{
    private const int EINVAL = 22;
    private const int EMSGSIZE = 90;

    /// <summary>The smallest segment size refused; every size from it up is sent datagram by datagram.</summary>
    public int RefusedFrom { get; private set; } = int.MaxValue;

    /// <summary>Whether a run of <paramref name="segmentSize"/>-byte segments may be tried as one GSO send.</summary>
    public bool Allows(int segmentSize) => segmentSize < RefusedFrom;

    /// <summary>The path refused segments of <paramref name="segmentSize"/> bytes with <paramref name="errno"/>.</summary>
    public void Refuse(int segmentSize, int errno) =>
        RefusedFrom = errno is EMSGSIZE or EINVAL ? Math.Min(RefusedFrom, segmentSize) : 0;
}
