namespace PortPublisher.Cni.Direct;

/// <summary>
/// One attachment the direct mode published: its key (container ID, interface), network, namespace, its elements, and
/// the host link whose route_localnet its 127.0.0.1 clients need (null when none do).
/// </summary>
internal sealed record StoredAttachment(
    string ContainerId,
    string IfName,
    string Network,
    string Netns,
    bool Snat,
    string? LocalnetLink,
    IReadOnlyList<StoredNatBinding> Bindings)
{
    public bool Is(Spec.Attachment a)
    {
        ArgumentNullException.ThrowIfNull(a);
        return ContainerId == a.ContainerId && IfName == a.IfName;
    }
}
