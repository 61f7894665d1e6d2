using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PortPublisher.Core.Api;

namespace PortPublisher.Cli;

/// <summary>HTTP/1.1 + JSON to the service over its Unix socket.</summary>
public sealed class ServiceClient : IDisposable
{
    /// <summary>Where the service listens unless <c>-H</c> or <c>PORTPUBLISHER_HOST</c> says otherwise.</summary>
    public const string DefaultHost = "unix://" + Core.Api.ServiceFootprint.DefaultSocket;

    private readonly HttpClient _http;

    /// <param name="socketPath">The service's Unix socket (see <see cref="ServiceHost.Parse"/>).</param>
    public ServiceClient(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch (SocketException e)
                {
                    socket.Dispose();

                    // EACCES is not "not running": the socket (or its directory) is not this user's to open.
                    if (e.SocketErrorCode == SocketError.AccessDenied)
                    {
                        throw new ServiceAccessDeniedException($"permission denied on {SocketPath}: only root and the socket's group may use it (are you in the portpublisher group, or root?)", e);
                    }

                    string why = e.SocketErrorCode == SocketError.ConnectionRefused ? "connection refused (nothing listens on it)"
                        : File.Exists(SocketPath) ? e.Message.ToLowerInvariant()
                        : "no such socket";
                    throw new ServiceUnavailableException($"cannot connect to {SocketPath}: {why}", e);
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://portpublisher/"), Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>The Unix socket path the host names.</summary>
    public string SocketPath { get; }

    public Task<PublicationDto> PublishAsync(PublishRequest request, CancellationToken ct) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/publications") { Content = Json(request, ApiJsonContext.Default.PublishRequest) }, ApiJsonContext.Default.PublicationDto, ct);

    public Task<PublicationDto> GetAsync(string name, CancellationToken ct) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, $"v1/publications/{Uri.EscapeDataString(name)}"), ApiJsonContext.Default.PublicationDto, ct);

    public Task<List<PublicationDto>> ListAsync(CancellationToken ct) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/publications"), ApiJsonContext.Default.ListPublicationDto, ct);

    public Task<PublicationDto> DeleteAsync(string name, CancellationToken ct) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Delete, $"v1/publications/{Uri.EscapeDataString(name)}"), ApiJsonContext.Default.PublicationDto, ct);

    public Task<StatusDto> StatusAsync(CancellationToken ct) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/status"), ApiJsonContext.Default.StatusDto, ct);

    public void Dispose() => _http.Dispose();

    // A sized body rather than JsonContent's chunked stream: the request is small and a Content-Length is simpler for every server.
    internal static ByteArrayContent Json<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    internal async Task<T> SendAsync<T>(HttpRequestMessage request, JsonTypeInfo<T> type, CancellationToken ct)
    {
        using (request)
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, ct);
            }
            catch (HttpRequestException e) when (e.InnerException is ServiceUnavailableException or ServiceAccessDeniedException)
            {
                throw e.InnerException;
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                // HttpClient.Timeout: connected, but no answer (a wedged or overloaded service).
                throw new ServiceUnavailableException($"the service at {SocketPath} did not answer within {_http.Timeout.TotalSeconds:0} s", e);
            }
            catch (HttpRequestException e)
            {
                throw new ServiceUnavailableException($"cannot talk to the service at {SocketPath}: {e.Message}", e);
            }

            using (response)
            {
                string body;
                try
                {
                    body = await response.Content.ReadAsStringAsync(ct);
                }
                catch (Exception e) when (e is HttpRequestException or IOException)
                {
                    throw new ServiceUnavailableException($"the service at {SocketPath} hung up while answering: {e.Message}", e);
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw new ServiceErrorException(response.StatusCode, ErrorMessage(body, response.StatusCode));
                }

                try
                {
                    return JsonSerializer.Deserialize(body, type) ?? throw new ServiceErrorException(response.StatusCode, "the service sent an empty answer");
                }
                catch (JsonException e)
                {
                    // Something else listens on this socket (-H pointing at another HTTP service, say).
                    throw new ServiceErrorException(response.StatusCode, $"{SocketPath} answered, but not as portpublisherd does: {e.Message}");
                }
            }
        }
    }

    private static string ErrorMessage(string body, HttpStatusCode status)
    {
        try
        {
            ErrorDto? e = JsonSerializer.Deserialize(body, ApiJsonContext.Default.ErrorDto);
            if (!string.IsNullOrEmpty(e?.Message))
            {
                return e.Message;
            }
        }
        catch (JsonException)
        {
        }

        return body.Length > 0 ? body.TrimEnd() : $"{(int)status} {status}";
    }
}
