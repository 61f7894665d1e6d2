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
    public const string DefaultHost = "unix:///run/portpublisher/portpublisher.sock";

    private readonly HttpClient _http;

    public ServiceClient(string host)
    {
        SocketPath = ParseHost(host);
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
                    string why = File.Exists(SocketPath) ? e.Message : "no such socket";
                    throw new ServiceUnavailableException($"cannot connect to {SocketPath}: {why}", e);
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://portpublisher/"), Timeout = TimeSpan.FromMinutes(2) };
    }

    /// <summary>The Unix socket path the host names.</summary>
    public string SocketPath { get; }

    /// <summary>Accepts <c>unix:///path</c> or an absolute path.</summary>
    public static string ParseHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        if (host.StartsWith("unix://", StringComparison.Ordinal))
        {
            host = host["unix://".Length..];
        }
        else if (host.Contains("://", StringComparison.Ordinal))
        {
            throw new ArgumentException($"unsupported host '{host}': only unix:///path is supported", nameof(host));
        }

        if (!host.StartsWith('/'))
        {
            throw new ArgumentException($"invalid host '{host}': expected unix:///absolute/path", nameof(host));
        }

        return host;
    }

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
            catch (HttpRequestException e) when (e.InnerException is ServiceUnavailableException u)
            {
                throw u;
            }
            catch (HttpRequestException e)
            {
                throw new ServiceUnavailableException($"cannot talk to the service at {SocketPath}: {e.Message}", e);
            }

            using (response)
            {
                string body = await response.Content.ReadAsStringAsync(ct);
                if (!response.IsSuccessStatusCode)
                {
                    throw new ServiceErrorException(response.StatusCode, ErrorMessage(body, response.StatusCode));
                }

                return JsonSerializer.Deserialize(body, type) ?? throw new ServiceErrorException(response.StatusCode, "the service sent an empty answer");
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
