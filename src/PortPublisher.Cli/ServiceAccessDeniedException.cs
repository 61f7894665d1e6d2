namespace PortPublisher.Cli;

/// <summary>
/// The socket is there but this user may not open it (EACCES): waiting or starting the service would not help, so it
/// is told apart from <see cref="ServiceUnavailableException"/>.
/// </summary>
public sealed class ServiceAccessDeniedException : Exception
{
    public ServiceAccessDeniedException()
    {
    }

    public ServiceAccessDeniedException(string message)
        : base(message)
    {
    }

    public ServiceAccessDeniedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
