namespace PortPublisher.Proxy;

/// <summary>Per-binding proxy settings.</summary>
public sealed record ProxyBindingOptions
{
    /// <summary>TCP connections relayed at once; further clients wait in the listen backlog.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>UDP clients tracked at once; datagrams from new clients beyond it are dropped and counted.</summary>
    public int MaxUdpFlows { get; init; } = 4096;

    /// <summary>A UDP flow with no datagram either way for this long is closed (docker-proxy: 90 s).</summary>
    public TimeSpan UdpIdleTimeout { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>
    /// How long a TCP dial into the target may take before the client is reset. Checked by the connection's event
    /// loop (a FIFO per binding and loop, looked at every 50 ms while dials are pending): no timer per connection.
    /// Measured with the proxy's TimeProvider.
    /// </summary>
    public TimeSpan DialTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Send a PROXY protocol v2 header to the target first, so it learns the client's address (TCP).</summary>
    public bool ProxyProtocolV2 { get; init; }

    /// <summary>Move TCP payload with splice(2) through a pipe instead of copying it through user space.</summary>
    public bool ZeroCopy { get; init; } = true;

    /// <summary>
    /// Accept on one event loop (the bindings take turns) instead of on every one (TCP). For listeners that see few
    /// connections, such as a NAT'ed port's, which only the host's own loopback clients reach: 10,000 of them then cost
    /// 10,000 epoll registrations and loop hand-offs, not 10,000 per CPU.
    /// </summary>
    public bool SingleLoop { get; init; }
}
