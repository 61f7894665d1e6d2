using PortPublisher.Netlink;

namespace PortPublisher.Service.Kernel;

/// <summary>
/// <see cref="ITargetNamespace"/> over an open nsfs handle, which publications into the same namespace share
/// (<see cref="NamespaceHandles"/>); <see cref="Path"/> is this publication's own.
/// </summary>
internal sealed class KernelNamespace : ITargetNamespace
{
    private readonly NamespaceHandles? _owner;
    private byte[]? _pathBytes;
    private int _disposed;

    public KernelNamespace(NetworkNamespace ns, string? path = null, NamespaceHandles? owner = null)
    {
        Namespace = ns;
        Path = path ?? ns.Path;
        _owner = owner;
    }

    public NetworkNamespace Namespace { get; }

    public string Path { get; }

    public (ulong Device, ulong Inode) Identity => Namespace.Identity;

    /// <summary>
    /// The path still names this very namespace: <c>ip netns del web &amp;&amp; ip netns add web</c> leaves a path that
    /// exists but is another namespace, which must end the publication as a deletion does.
    /// </summary>
    public unsafe bool StillNamed
    {
        get
        {
            // Asked of every publication each second: the path's bytes are made once.
            byte[] path = _pathBytes ??= System.Text.Encoding.UTF8.GetBytes(Path + "\0");
            Tmds.Linux.stat st;
            fixed (byte* p = path)
            {
                return Tmds.Linux.LibC.stat(p, &st) == 0 && ((ulong)st.st_dev, (ulong)st.st_ino) == Namespace.Identity;
            }
        }
    }

    public ITargetNamespace Share()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _owner is null ? throw new InvalidOperationException($"{Path}: an unshared handle cannot be shared") : _owner.AddHold(Namespace, Path);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_owner is null)
        {
            Namespace.Dispose();
        }
        else
        {
            _owner.Release(Namespace);
        }
    }
}
