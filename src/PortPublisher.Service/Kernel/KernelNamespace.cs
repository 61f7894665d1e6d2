using PortPublisher.Netlink;

namespace PortPublisher.Service.Kernel;

/// <summary><see cref="ITargetNamespace"/> over an open nsfs handle.</summary>
internal sealed class KernelNamespace(NetworkNamespace ns) : ITargetNamespace
{
    public NetworkNamespace Namespace { get; } = ns;

    public string Path => Namespace.Path;

    public (ulong Device, ulong Inode) Identity => Namespace.Identity;

    /// <summary>
    /// The path still names this very namespace: <c>ip netns del web &amp;&amp; ip netns add web</c> leaves a path that
    /// exists but is another namespace, which must end the publication as a deletion does.
    /// </summary>
    public unsafe bool StillNamed
    {
        get
        {
            Tmds.Linux.stat st;
            fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(Namespace.Path + "\0"))
            {
                return Tmds.Linux.LibC.stat(p, &st) == 0 && ((ulong)st.st_dev, (ulong)st.st_ino) == Namespace.Identity;
            }
        }
    }

    public void Dispose() => Namespace.Dispose();
}
