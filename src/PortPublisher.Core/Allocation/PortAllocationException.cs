namespace PortPublisher.Core.Allocation;

/// <summary>A host port could not be allocated; the message is Docker's text where Docker has one.</summary>
public sealed class PortAllocationException : Exception
{
    public PortAllocationException()
    {
    }

    public PortAllocationException(string message)
        : base(message)
    {
    }

    public PortAllocationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
