using PortPublisher.Netlink.Interop;

namespace PortPublisher.Netlink.Route;

/// <summary>
/// Calls back (on a dedicated thread) whenever a link, an IPv4 address or an IPv4 route changes in a namespace
/// (rtnetlink groups RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE): how the service notices that a veth to
/// a target was deleted and made again, and that its per-link settings must be applied anew. The callback gets no
/// detail; callers re-read what they need, which also covers lost notifications (ENOBUFS).
/// </summary>
public sealed class LinkEventMonitor : IDisposable
{
    public const int RTNLGRP_LINK = 1;
    public const int RTNLGRP_IPV4_IFADDR = 5;
    public const int RTNLGRP_IPV4_ROUTE = 7;

    private readonly NetlinkSocket _socket;
    private readonly Action _onChange;
    private readonly Thread _thread;
    private volatile bool _stopping;

    public LinkEventMonitor(Action onChange, NetworkNamespace? ns = null)
    {
        ArgumentNullException.ThrowIfNull(onChange);
        _onChange = onChange;
        _socket = NetlinkSocket.Open(LinuxNetlink.NETLINK_ROUTE, ns);
        foreach (int group in new[] { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE })
        {
            _socket.SetOption(LinuxNetlink.SOL_NETLINK, LinuxNetlink.NETLINK_ADD_MEMBERSHIP, group);
        }

        _thread = new Thread(Loop) { IsBackground = true, Name = "link-events" };
        _thread.Start();
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        _socket.Dispose();
    }

    private void Loop()
    {
        var buffer = new byte[64 * 1024];
        while (!_stopping)
        {
            int n;
            try
            {
                // A short poll timeout is how Dispose stops the loop without closing the fd under a blocked recv.
                n = _socket.Receive(buffer, 200);
            }
            catch (NetlinkException e) when (e.Errno == 105)
            {
                n = 1; // ENOBUFS: notifications were lost; the callback re-reads anyway
            }

            if (n > 0)
            {
                try
                {
                    _onChange();
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A faulty subscriber must not kill the monitor; the service logs inside its own callback.
                }
            }
        }
    }
}
