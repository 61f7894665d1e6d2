using System.Net;

namespace PortPublisher.Cli;

/// <summary>The service answered with an error; <see cref="Exception.Message"/> is its <c>message</c>.</summary>
public sealed class ServiceErrorException : Exception
{
    public ServiceErrorException(HttpStatusCode status, string message)
        : base(message)
    {
        Status = status;
    }

    public ServiceErrorException()
    {
    }

    public ServiceErrorException(string message)
        : base(message)
    {
    }

    public ServiceErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HttpStatusCode Status { get; }
}
