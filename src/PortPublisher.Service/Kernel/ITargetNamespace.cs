namespace PortPublisher.Service.Kernel;

/// <summary>An open network namespace a publication sends traffic into; holding it keeps the namespace alive.</summary>
internal interface ITargetNamespace : IDisposable
{
    /// <summary>The path it was opened by (<c>/run/netns/NAME</c>, <c>/proc/PID/ns/net</c>, …).</summary>
    string Path { get; }

    /// <summary>(device, inode): equal identities are the same namespace.</summary>
    (ulong Device, ulong Inode) Identity { get; }

    /// <summary>False once the path no longer names it (<c>ip netns del</c>, the process exited).</summary>
    bool StillNamed { get; }

    /// <summary>
    /// Another hold on the same open namespace by the same path, disposed on its own (restoring many publications
    /// into one namespace opens it once).
    /// </summary>
    ITargetNamespace Share();
}
