using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using PortPublisher.Core.Sandboxes;
using PortPublisher.Service.Publications;
using PortPublisher.Service.Sandboxes;

namespace PortPublisher.Service.Api;

/// <summary>The sandbox routes under /v1/sandboxes, with the control API's conventions (errors as <c>{"message": …}</c>).</summary>
internal static class SandboxApi
{
    public static void Map(IEndpointRouteBuilder app, Func<HttpContext, bool> onControlSocket)
    {
        RouteGroupBuilder v1 = app.MapGroup("/v1/sandboxes").AddEndpointFilter(async (ctx, next) =>
            onControlSocket(ctx.HttpContext) ? await next(ctx) : Results.NotFound());

        v1.MapPost(string.Empty, async (HttpContext http, SandboxManager sandboxes) =>
        {
            if (!http.Request.HasJsonContentType())
            {
                return ControlApi.Error(HttpStatusCode.UnsupportedMediaType, "the request body must be JSON (Content-Type: application/json)");
            }

            SandboxCreateRequest? request;
            try
            {
                request = await JsonSerializer.DeserializeAsync(http.Request.Body, SandboxJsonContext.Default.SandboxCreateRequest, http.RequestAborted);
            }
            catch (JsonException e)
            {
                return ControlApi.Error(HttpStatusCode.BadRequest, $"invalid request body: {e.Message}");
            }

            if (request is null)
            {
                return ControlApi.Error(HttpStatusCode.BadRequest, "empty request body");
            }

            return await Handle(async () => Results.Json(await sandboxes.CreateAsync(request, http.RequestAborted), SandboxJsonContext.Default.SandboxDto, statusCode: 201));
        });

        v1.MapGet(string.Empty, (SandboxManager sandboxes) => Results.Json(sandboxes.List(), SandboxJsonContext.Default.ListSandboxDto));

        v1.MapGet("/{name}", (string name, SandboxManager sandboxes) => sandboxes.Get(name) is { } s
            ? Results.Json(s, SandboxJsonContext.Default.SandboxDto)
            : ControlApi.Error(HttpStatusCode.NotFound, $"No such sandbox: {name}"));

        // ?force=true kills what still runs in it, as `docker rm -f` does.
        v1.MapDelete("/{name}", (string name, HttpContext http, SandboxManager sandboxes) => Handle(async () =>
            Results.Json(await sandboxes.RemoveAsync(name, http.Request.Query["force"] is { Count: 1 } f && f[0] is "true" or "1", http.RequestAborted), SandboxJsonContext.Default.SandboxDto)));
    }

    private static async Task<IResult> Handle(Func<Task<IResult>> action)
    {
        try
        {
            return await action();
        }
        catch (PublishException e)
        {
            return ControlApi.Error(e.Status, e.Message);
        }
        catch (OperationCanceledException)
        {
            return ControlApi.Error((HttpStatusCode)499, "request cancelled");
        }
    }
}
