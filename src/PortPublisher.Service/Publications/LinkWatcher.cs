using PortPublisher.Netlink;
using PortPublisher.Netlink.Route;
using PortPublisher.Service.Kernel;

namespace PortPublisher.Service.Publications;

/// <summary>
/// Re-applies route_localnet when the host's links change: a veth to a target deleted and made again comes back
/// with the kernel's default (0), which would silently break its NAT'ed 127.0.0.0/8 bindings. A burst of link,
/// address and route events becomes one sync on the writer.
/// </summary>
internal sealed class LinkWatcher(CommandQueue queue, PublicationRegistry registry, IHostSysctls sysctls) : IDisposable
{
    private readonly CoalescedCommand _sync = new(queue, "sync route_localnet", _ =>
    {
        sysctls.SyncLocalnet(registry.LocalnetTargets());
        return ValueTask.CompletedTask;
    });

    private LinkEventMonitor? _monitor;

    public void Start()
    {
        try
        {
            _monitor = new LinkEventMonitor(_sync.Request);
        }
        catch (NetlinkException)
        {
            // Without rtnetlink events the next publish or restart re-applies it; nothing else depends on this.
        }
    }

    public void Dispose() => _monitor?.Dispose();
}
