namespace PortPublisher.Netlink;

/// <summary>The kernel sent something this codec cannot read (truncated, malformed, or unexpected).</summary>
public sealed class NetlinkProtocolException : Exception
{
    public NetlinkProtocolException()
    {
    }

    public NetlinkProtocolException(string message)
        : base(message)
    {
    }

    public NetlinkProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
