using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;
using PortPublisher.Core.Api;
using PortPublisher.Service.Hosting;
using PortPublisher.Service.Options;
using PortPublisher.Service.Publications;

namespace PortPublisher.Service.Api;

/// <summary>The native control API under /v1/: JSON in and out, errors as <c>{"message": …}</c> with a fitting status.</summary>
internal static class ControlApi
{
    public static void Map(IEndpointRouteBuilder app, Func<HttpContext, bool> onControlSocket)
    {
        RouteGroupBuilder v1 = app.MapGroup("/v1").AddEndpointFilter(async (ctx, next) =>
            onControlSocket(ctx.HttpContext) ? await next(ctx) : Results.NotFound());

        v1.MapPost("/publications", async (HttpContext http, PublicationManager manager) =>
        {
            if (!http.Request.HasJsonContentType())
            {
                return Error(HttpStatusCode.UnsupportedMediaType, $"the request body must be JSON (Content-Type: application/json), not {(string.IsNullOrEmpty(http.Request.ContentType) ? "none" : http.Request.ContentType)}");
            }

            PublishRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync(http.Request.Body, ApiJsonContext.Default.PublishRequest, http.RequestAborted);
            }
            catch (JsonException e)
            {
                return Error(HttpStatusCode.BadRequest, $"invalid request body: {e.Message}");
            }

            if (request is null)
            {
                return Error(HttpStatusCode.BadRequest, "empty request body");
            }

            return await Handle(async () =>
            {
                PublicationDto result = await manager.PublishAsync(request, http.RequestAborted);
                return Results.Json(result, ApiJsonContext.Default.PublicationDto, statusCode: request.DryRun ? 200 : 201);
            });
        });

        v1.MapGet("/publications", (PublicationManager manager) => PublicationListJson.Result(manager.Snapshot));

        v1.MapGet("/publications/{name}", (string name, HttpContext http, PublicationManager manager) => Handle(async () =>
        {
            PublicationDto? p = await manager.GetAsync(name, http.RequestAborted);

            // Our own wording, as DELETE's; Docker's "No such container" belongs to the Docker-compatible routes (and
            // `portpublisher port` prints it itself, as `docker port` does).
            return p is null ? Error(HttpStatusCode.NotFound, $"no such publication: {name}") : Results.Json(p, ApiJsonContext.Default.PublicationDto);
        }));

        v1.MapDelete("/publications/{name}", (string name, HttpContext http, PublicationManager manager) => Handle(async () =>
            Results.Json(await manager.UnpublishAsync(name, http.RequestAborted), ApiJsonContext.Default.PublicationDto)));

        v1.MapGet("/status", (PublicationManager manager, IOptions<PortPublisherOptions> options) =>
        {
            PortPublisherOptions o = options.Value;
            StatusDto status = manager.Status() with { Mode = o.Mode, Table = o.Table, StateDir = o.StateDir, Socket = o.Socket, OpenFileLimit = OpenFileLimit.Read() is { Soft: <= long.MaxValue } l ? (long)l.Soft : null };
            return Results.Json(status, ApiJsonContext.Default.StatusDto);
        });
    }

    /// <summary>
    /// <c>{"message": …}</c> with Content-Type exactly <c>application/json</c>: the docker CLI reads the message only then
    /// (with a charset parameter it prints the raw body).
    /// </summary>
    public static IResult Error(HttpStatusCode status, string message) =>
        Results.Json(new ErrorDto(message), ApiJsonContext.Default.ErrorDto, contentType: "application/json", statusCode: (int)status);

    private static async Task<IResult> Handle(Func<Task<IResult>> action)
    {
        try
        {
            return await action();
        }
        catch (PublishException e)
        {
            return Error(e.Status, e.Message);
        }
        catch (OperationCanceledException)
        {
            // The client went away before its command ran; nobody reads this answer.
            return Error((HttpStatusCode)499, "request cancelled");
        }
    }
}
