using System.Net.Sockets;

namespace PortPublisher.Service.Kernel;

/// <summary>
/// The socket that keeps a host port ours: one binding's, or a wildcard pair's. A pair (0.0.0.0 and [::] of one port
/// and protocol) shares one dual-stack <c>[::]</c> socket (IPV6_V6ONLY=0), which the kernel counts as holding both
/// families, so a 10,000-port range on both takes 10,000 descriptors, not 20,000. Both bindings of a pair refer to the
/// same hold; closing it more than once is harmless.
/// </summary>
internal sealed class PortHold(SafeSocketHandle socket, bool dualStack) : IDisposable
{
    /// <summary>The socket, until <see cref="HandedOver"/> or <see cref="Dispose"/>.</summary>
    public SafeSocketHandle? Socket { get; private set; } = socket;

    /// <summary>Whether this is a pair's dual-stack socket.</summary>
    public bool DualStack { get; } = dualStack;

    /// <summary>The socket, for a listener to take; <see cref="HandedOver"/> once it has (a failed start leaves it here, to be closed).</summary>
    public SafeSocketHandle Reserved => Socket ?? throw new InvalidOperationException("the reserved socket was already handed over or closed");

    /// <summary>A listener owns the socket now: this hold no longer closes it.</summary>
    public void HandedOver() => Socket = null;

    public void Dispose()
    {
        Socket?.Dispose();
        Socket = null;
    }
}
