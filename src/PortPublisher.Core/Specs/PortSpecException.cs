namespace PortPublisher.Core.Specs;

/// <summary>A <c>-p</c> value Docker rejects; <see cref="Exception.Message"/> is Docker's exact error text.</summary>
public sealed class PortSpecException : Exception
{
    public PortSpecException(string spec, string message)
        : base(message)
    {
        Spec = spec;
    }

    public PortSpecException()
    {
        Spec = string.Empty;
    }

    public PortSpecException(string message)
        : base(message)
    {
        Spec = string.Empty;
    }

    public PortSpecException(string message, Exception innerException)
        : base(message, innerException)
    {
        Spec = string.Empty;
    }

    /// <summary>The value as the user typed it.</summary>
    public string Spec { get; }
}
