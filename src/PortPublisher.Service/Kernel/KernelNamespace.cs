using PortPublisher.Netlink;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="ITargetNamespace"/> over an open nsfs handle.</summary>
internal sealed class KernelNamespace(NetworkNamespace ns) : ITargetNamespace
{
    public NetworkNamespace Namespace { get; } = ns;

    public string Path => Namespace.Path;

    public (ulong Device, ulong Inode) Identity => Namespace.Identity;

    public bool StillNamed => File.Exists(Namespace.Path);

    public void Dispose() => Namespace.Dispose();
}
