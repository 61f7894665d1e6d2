using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using PortPublisher.Cni.Spec;
using PortPublisher.Core.Api;

namespace PortPublisher.Cni.Publishing;

/// <summary>
/// HTTP/1.1 + JSON to portpublisherd over its Unix socket, each request under the plugin's deadline. An unreachable
/// service (no socket, nobody listening) is told apart from one that is there but does not answer in time (11).
/// </summary>
internal sealed class ServiceClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;

    public ServiceClient(string socketPath, TimeSpan timeout)
    {
        SocketPath = socketPath;
        _timeout = timeout;
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
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            UseProxy = false,
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://portpublisher/"), Timeout = Timeout.InfiniteTimeSpan };
    }

    public string SocketPath { get; }

    /// <summary>Null when something accepts connections on the socket, else why not (no socket, refused).</summary>
    /// <exception cref="CniException">50 when the socket is there but not ours to use (EACCES): not a reason to go direct.</exception>
    public static async Task<string?> ProbeAsync(string socketPath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cts.Token);
            return null;
        }
        catch (SocketException) when (!File.Exists(socketPath))
        {
            return "no such socket";
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            return "connection refused";
        }
        catch (SocketException e)
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"cannot connect to portpublisherd at {socketPath}: {e.Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CniException(CniErrorCode.ErrTryAgainLater, $"portpublisherd at {socketPath} did not accept a connection within {timeout.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Sends; returns the status and the body (an error's message already taken out of <c>{"message"}</c>).</summary>
    /// <exception cref="CniException">11 past the deadline; 50 when the service cannot be reached.</exception>
    public async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpMethod method, string path, HttpContent? content, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_timeout);
        using var request = new HttpRequestMessage(method, path) { Content = content };
        try
        {
            using HttpResponseMessage response = await _http.SendAsync(request, cts.Token);
            string body = await response.Content.ReadAsStringAsync(cts.Token);
            return (response.StatusCode, response.IsSuccessStatusCode ? body : ErrorMessage(body, response.StatusCode));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CniException(CniErrorCode.ErrTryAgainLater, $"portpublisherd at {SocketPath} did not answer {method} /{path} within {_timeout.TotalSeconds:0.#} s; try again later");
        }
        catch (HttpRequestException e)
        {
            throw new CniException(CniErrorCode.ErrPluginNotAvailable, $"cannot talk to portpublisherd at {SocketPath}: {e.Message}");
        }
    }

    public static T Parse<T>(string body, JsonTypeInfo<T> type, string socketPath)
    {
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new JsonException("empty answer");
        }
        catch (JsonException e)
        {
            throw new CniException(CniErrorCode.ErrServiceFailed, $"{socketPath} answered, but not as portpublisherd does: {e.Message}");
        }
    }

    public static ByteArrayContent Json<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        return content;
    }

    public void Dispose() => _http.Dispose();

    private static string ErrorMessage(string body, HttpStatusCode status)
    {
        try
        {
            if (JsonSerializer.Deserialize(body, ApiJsonContext.Default.ErrorDto) is { Message.Length: > 0 } e)
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
