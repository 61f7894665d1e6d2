namespace PortPublisher.Core.Specs;

/// <summary>Transport protocols Docker publishes. The order is Docker's (tcp &lt; udp &lt; sctp).</summary>
public enum Protocol
{
    Tcp,
    Udp,
    Sctp,
}
