namespace PortPublisher.Netlink;

/// <summary>The named network namespace does not exist or is not a network namespace.</summary>
public sealed class NetworkNamespaceNotFoundException : Exception
{
    public NetworkNamespaceNotFoundException()
    {
    }

    public NetworkNamespaceNotFoundException(string message)
        : base(message)
    {
    }

    public NetworkNamespaceNotFoundException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
