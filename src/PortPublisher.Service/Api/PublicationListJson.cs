using System.Buffers;
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using PortPublisher.Core.Api;

namespace PortPublisher.Service.Api;

/// <summary>
/// <c>GET /v1/publications</c> without serializing every publication on every request: each DTO is immutable and
/// replaced when its publication changes, so its JSON is made once and kept beside it (weakly: it goes with the DTO).
/// With 10,000 publications an <c>ls</c> after a publish serializes one and copies the rest. The bytes are exactly
/// what serializing the list gives.
/// </summary>
internal static class PublicationListJson
{
    private const int FlushBytes = 64 * 1024;

    private static readonly ConditionalWeakTable<PublicationDto, byte[]> s_json = [];

    public static IResult Result(ImmutableArray<PublicationDto> publications) => new ListResult(publications);

    private static byte[] Of(PublicationDto p) =>
        s_json.GetValue(p, static d => JsonSerializer.SerializeToUtf8Bytes(d, ApiJsonContext.Default.PublicationDto));

    private sealed class ListResult(ImmutableArray<PublicationDto> publications) : IResult
    {
        public async Task ExecuteAsync(HttpContext httpContext)
        {
            HttpResponse response = httpContext.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json; charset=utf-8";
            var body = response.BodyWriter;
            Write(body, "["u8);
            int pending = 1;
            for (int i = 0; i < publications.Length; i++)
            {
                if (i > 0)
                {
                    Write(body, ","u8);
                }

                byte[] json = Of(publications[i]);
                Write(body, json);
                pending += json.Length + 1;
                if (pending >= FlushBytes)
                {
                    _ = await body.FlushAsync(httpContext.RequestAborted);
                    pending = 0;
                }
            }

            Write(body, "]"u8);
            _ = await body.FlushAsync(httpContext.RequestAborted);
        }

        private static void Write(IBufferWriter<byte> w, ReadOnlySpan<byte> bytes) => w.Write(bytes);
    }
}
