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
}
