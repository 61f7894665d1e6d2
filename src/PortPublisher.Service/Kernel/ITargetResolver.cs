using System.Net;

namespace PortPublisher.Service.Kernel;

/// <summary>Opens target namespaces and finds where in them traffic goes. Never blocks the writer past a deadline.</summary>
internal interface ITargetResolver
{
    /// <summary>
    /// Opens <paramref name="netns"/> (an <c>ip netns</c> name or a namespace path) and picks the target address per
    /// family: <paramref name="requested"/> (at most one per family), each of which must be one of the namespace's own;
    /// when none is given, its first global address of each family.
    /// </summary>
    /// <exception cref="Publications.PublishException">No such namespace, not a namespace, a foreign <c>--ip</c>, or past the deadline.</exception>
    ValueTask<ResolvedTarget> ResolveAsync(string netns, IReadOnlyList<IPAddress> requested, CancellationToken cancellationToken);

    /// <summary>Opens a saved publication's namespace again and checks it is still the same one.</summary>
    ValueTask<ITargetNamespace> ReopenAsync(string path, (ulong Device, ulong Inode) identity, CancellationToken cancellationToken);
}
