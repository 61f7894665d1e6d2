using PortPublisher.Netlink;

namespace PortPublisher.Service.Kernel;

/// <summary>
/// One open nsfs handle per network namespace, shared by every publication into it (counted): 10,000 publications
/// into one namespace hold one descriptor for it, not 10,000, and their proxies share one socket source. A namespace
/// opened by another path (<c>/proc/PID/ns/net</c> and <c>/run/netns/NAME</c>) is the same one by identity; each
/// publication keeps the path it named. Any thread (opening runs off the writer).
/// </summary>
internal sealed class NamespaceHandles
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(ulong Device, ulong Inode), (NetworkNamespace Namespace, int Users)> _open = [];

    /// <summary>Namespaces held open now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _open.Count;
            }
        }
    }

    /// <summary>
    /// A publication's hold on <paramref name="opened"/>'s namespace, named by <paramref name="path"/>: the handle
    /// already open for that namespace if there is one (<paramref name="opened"/> is then closed), else
    /// <paramref name="opened"/> itself.
    /// </summary>
    public KernelNamespace Share(NetworkNamespace opened, string path)
    {
        ArgumentNullException.ThrowIfNull(opened);
        NetworkNamespace shared;
        lock (_gate)
        {
            if (_open.TryGetValue(opened.Identity, out (NetworkNamespace Namespace, int Users) entry))
            {
                shared = entry.Namespace;
                _open[opened.Identity] = (shared, entry.Users + 1);
            }
            else
            {
                shared = opened;
                _open[opened.Identity] = (opened, 1);
            }
        }

        if (!ReferenceEquals(shared, opened))
        {
            opened.Dispose();
        }

        return new KernelNamespace(shared, path, this);
    }

    /// <summary>Another hold on a handle this already shares (<see cref="KernelNamespace.Share"/>).</summary>
    internal KernelNamespace AddHold(NetworkNamespace held, string path)
    {
        lock (_gate)
        {
            if (!_open.TryGetValue(held.Identity, out (NetworkNamespace Namespace, int Users) entry) || !ReferenceEquals(entry.Namespace, held))
            {
                throw new ObjectDisposedException(held.Path, "the namespace handle is no longer open");
            }

            _open[held.Identity] = (held, entry.Users + 1);
        }

        return new KernelNamespace(held, path, this);
    }

    /// <summary>One publication lets go; the last closes the handle.</summary>
    public void Release(NetworkNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        lock (_gate)
        {
            if (!_open.TryGetValue(ns.Identity, out (NetworkNamespace Namespace, int Users) entry) || !ReferenceEquals(entry.Namespace, ns))
            {
                return;
            }

            if (entry.Users > 1)
            {
                _open[ns.Identity] = (ns, entry.Users - 1);
                return;
            }

            _open.Remove(ns.Identity);
        }

        ns.Dispose();
    }
}
