namespace PortPublisher.Proxy;

/// <summary>What went wrong, by kind (a closed set: it becomes a metric label).</summary>
public enum ProxyErrorKind
{
    /// <summary>The target refused, was unreachable, or did not answer in time.</summary>
    DialFailed,

    /// <summary>The client reset or failed the connection.</summary>
    ClientFailed,

    /// <summary>The target reset or failed the connection.</summary>
    TargetFailed,

    /// <summary>A UDP datagram was dropped because the flow table was full.</summary>
    FlowTableFull,

    /// <summary>A datagram could not be sent.</summary>
    SendFailed,

    /// <summary>Accepting a connection failed.</summary>
    AcceptFailed,

    /// <summary>
    /// The binding reached its MaxConnections and stopped accepting: new clients wait in the kernel's backlog (and may
    /// time out there) until a connection closes. Counted once per event loop each time it reaches the bound, not per
    /// waiting client.
    /// </summary>
    ConnectionLimit,
}
