using System.Net;

namespace PortPublisher.Service.Publications;

/// <summary>A request the service refuses; <see cref="Status"/> is the HTTP status the API answers with.</summary>
public sealed class PublishException : Exception
{
    public PublishException(HttpStatusCode status, string message)
        : base(message)
    {
        Status = status;
    }

    public PublishException(HttpStatusCode status, string message, Exception innerException)
        : base(message, innerException)
    {
        Status = status;
    }

    public PublishException()
    {
    }

    public PublishException(string message)
        : base(message)
    {
    }

    public PublishException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public HttpStatusCode Status { get; } = HttpStatusCode.BadRequest;

    /// <summary>The pipeline step that failed (<c>validate</c>, <c>open target</c>, <c>allocate</c>, <c>persist</c>, …), when known.</summary>
    public string? Step { get; init; }
}
